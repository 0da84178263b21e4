"""Hayhooks pipeline wrapper: Haystack 2.x BM25 over the BEIR SciFact corpus.

Deployed by `hayhooks run --pipelines-dir bench/peers/haystack/pipelines`; the
directory name (`scifact_bm25`) is the pipeline name, so the endpoint is
`POST /scifact_bm25/run`. The corpus is read and indexed once, in setup(), when
Hayhooks deploys the pipeline at server start (once per worker process).

Environment:
  SCIFACT_DIR               folder with corpus.jsonl (default /work/shared/data/scifact)
  PEER_BM25_ALGORITHM       BM25L (Haystack's default), BM25Okapi or BM25Plus
  PEER_BM25_K1 / PEER_BM25_B  override k1 / b (unset: Haystack's defaults, 1.5 / 0.75)
  PEER_READY_DIR            when set, each worker process writes a file named after its pid
                            here once its index is built (serve.sh waits for all workers)
"""

import json
import os
import time
from pathlib import Path

from haystack import Document, Pipeline
from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
from haystack.document_stores.in_memory import InMemoryDocumentStore
from hayhooks import BasePipelineWrapper, log

DEFAULT_SCIFACT_DIR = "/work/shared/data/scifact"


def load_scifact_documents(scifact_dir: str) -> list[Document]:
    """One Document per corpus line: id = BEIR `_id`, content = title + " " + text (BEIR's concatenation)."""
    docs = []
    with open(Path(scifact_dir) / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            title = (row.get("title") or "").strip()
            text = (row.get("text") or "").strip()
            content = f"{title} {text}".strip()
            docs.append(Document(id=str(row["_id"]), content=content, meta={"title": title}))
    return docs


class PipelineWrapper(BasePipelineWrapper):
    def setup(self) -> None:
        t0 = time.monotonic()
        scifact_dir = os.environ.get("SCIFACT_DIR") or DEFAULT_SCIFACT_DIR
        algorithm = os.environ.get("PEER_BM25_ALGORITHM") or "BM25L"
        params = {}
        if os.environ.get("PEER_BM25_K1"):
            params["k1"] = float(os.environ["PEER_BM25_K1"])
        if os.environ.get("PEER_BM25_B"):
            params["b"] = float(os.environ["PEER_BM25_B"])

        store = InMemoryDocumentStore(bm25_algorithm=algorithm, bm25_parameters=params or None)
        docs = load_scifact_documents(scifact_dir)
        store.write_documents(docs)

        pipeline = Pipeline()
        pipeline.add_component("retriever", InMemoryBM25Retriever(document_store=store, top_k=10))
        self.pipeline = pipeline
        self.document_count = store.count_documents()
        log.info(
            "scifact_bm25: indexed {} documents from {} with {} {} in {:.2f}s",
            self.document_count,
            scifact_dir,
            algorithm,
            params or "(defaults)",
            time.monotonic() - t0,
        )
        ready_dir = os.environ.get("PEER_READY_DIR")
        if ready_dir and os.path.isdir(ready_dir):
            Path(ready_dir, str(os.getpid())).write_text(f"{self.document_count}\n")

    def run_api(self, query: str, top_k: int = 10, include_content: bool = False) -> dict:
        """
        BM25 search over SciFact.

        :param query: The query text.
        :param top_k: How many documents to return, best first.
        :param include_content: Also return each document's content (title + text).
        :returns: {"documents": [{"id", "score"(, "content")}], "count"}.
        """
        result = self.pipeline.run({"retriever": {"query": query, "top_k": top_k}})
        out = []
        for doc in result["retriever"]["documents"]:
            item = {"id": doc.id, "score": doc.score}
            if include_content:
                item["content"] = doc.content
            out.append(item)
        return {"documents": out, "count": len(out)}
