"""Does Haystack's BM25 tokenisation explain its SciFact score? In-process, no server.

Indexes SciFact with Haystack's InMemoryDocumentStore as the peer does, then again with
Lucene's English stopwords removed and/or Snowball-English stemming added to Haystack's
tokeniser, for BM25L (Haystack's default) and BM25Okapi (k1=0.9, b=0.4, Pyserini's), and
prints nDCG@10 / Recall@100 on the test split. PyStemmer is not part of the peer; put it
in a folder of its own:

  .tools/haystack-venv/bin/pip install --target /tmp/stem PyStemmer
  STEMMER_PATH=/tmp/stem timeout 600 .tools/haystack-venv/bin/python bench/peers/haystack/experiments/tokenisation.py
"""
import importlib.util, json, os, sys
sys.path.insert(0, os.environ.get("STEMMER_PATH", "/tmp/stem"))
import Stemmer, pytrec_eval
from haystack.document_stores.in_memory import InMemoryDocumentStore
spec = importlib.util.spec_from_file_location("w", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pipelines", "scifact_bm25", "pipeline_wrapper.py"))
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
D=os.environ.get("SCIFACT_DIR") or "/work/shared/data/scifact"
docs = m.load_scifact_documents(D)
q={json.loads(l)["_id"]: json.loads(l)["text"] for l in open(D+"/queries.jsonl")}
qrels={}
for l in list(open(D+"/qrels/test.tsv"))[1:]:
    a,b,c=l.split("\t"); qrels.setdefault(a,{})[b]=int(c)
LUCENE_STOP=set("a an and are as at be but by for if in into is it no not of on or such that the their then there these they this to was will with".split())
st=Stemmer.Stemmer("english")  # Snowball english ~ Porter2; Lucene's EnglishAnalyzer uses PorterStemmer (v1)
class S(InMemoryDocumentStore):
    def __init__(self, mode, **kw):
        self.mode = mode; super().__init__(**kw)
    def _tokenize_bm25(self, text):
        toks = self.tokenizer(text.lower())
        if "stop" in self.mode: toks = [t for t in toks if t not in LUCENE_STOP]
        if "stem" in self.mode: toks = st.stemWords(toks)
        return toks
for mode in ["", "stop", "stem", "stop+stem"]:
    for alg, params in [("BM25L", None), ("BM25Okapi", {"k1":0.9,"b":0.4})]:
        s = S(mode, bm25_algorithm=alg, bm25_parameters=params); s.write_documents(docs)
        run={qid:{d.id:d.score for d in s.bm25_retrieval(q[qid], top_k=100) if d.id!=qid} for qid in qrels}
        r=pytrec_eval.RelevanceEvaluator(qrels,{"ndcg_cut.10","recall.100"}).evaluate(run)
        n=sum(v["ndcg_cut_10"] for v in r.values())/len(qrels); rc=sum(v["recall_100"] for v in r.values())/len(qrels)
        print(f"tokens={mode or 'haystack default'!s:18} {alg:9} {params or 'defaults'!s:22} nDCG@10={n:.4f} R@100={rc:.4f}", flush=True)
