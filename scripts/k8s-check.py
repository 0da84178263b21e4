"""Checks on rendered Kubernetes manifests that no schema can express, and YAML -> JSON.

  k8s-check.py to-json FILE.yaml     print the documents of FILE as one JSON array
  k8s-check.py wiring FILE.yaml...   check that what KEDA and Kubernetes are told agrees with what
                                     the Keel processes they scale will do; exit 1 if not

The wiring checks, per rendered overlay:
  - each ScaledObject's redis triggers count exactly the queues its Deployment consumes (a
    worker's `--queues`; the API's, `serve`, is `agent`), under the container's own
    KEEL_QUEUE_PREFIX: for every queue <prefix>:<queue>:wait, :prioritized and :active (and
    optionally :delayed), named <queue>_<key>;
  - the formula uses every redis trigger and nothing else (KEDA leaves cpu and memory triggers out
    of it and hands them to its HPA as they are); its target is what one pod runs at once: a
    worker's per-queue concurrency, which is the container's CPU limit in whole cores, or the
    API's KEEL_AGENT_CONCURRENCY;
  - the API's ScaledObject keeps a cpu trigger (Utilization); no cpu or memory trigger names a
    container (KEDA drops such a metric when there is a formula), and the container requests
    the resource (KEDA refuses the trigger otherwise);
  - every Keel container has the three probes, and its pod's terminationGracePeriodSeconds exceeds
    KEEL_SHUTDOWN_GRACE_MS (plus any preStop sleep); a worker of `ingest` or `eval` waits at least
    as long as that queue's longest job;
  - a Deployment that an HPA or a ScaledObject scales sets no `replicas`, and no Deployment has
    both (two HPAs would fight over its count).
Defaults are the app's: KEEL_QUEUE_PREFIX bull, KEEL_SHUTDOWN_GRACE_MS 10000, and so on.
"""

import json
import re
import sys

import yaml

DEFAULTS = {
    "KEEL_QUEUE_PREFIX": "bull",
    "KEEL_SHUTDOWN_GRACE_MS": "10000",
    "KEEL_INGEST_TIMEOUT_MS": "600000",
    "KEEL_EVAL_TIMEOUT_MS": "3600000",
    "KEEL_AGENT_CONCURRENCY": "16",
}
# The queues `keel serve` consumes itself: async agent runs (libs/agent's BullmqAgentQueue). The
# other queues' API side only produces.
API_QUEUES = ("agent",)
RESOURCE_TRIGGERS = ("cpu", "memory")
# The longest job of a queue, by the setting that bounds it.
JOB_TIMEOUTS = {"ingest": "KEEL_INGEST_TIMEOUT_MS", "eval": "KEEL_EVAL_TIMEOUT_MS"}
COUNTED_KEYS = ("wait", "prioritized", "active")  # required per queue
OPTIONAL_KEYS = ("delayed",)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def load(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def cpu_cores(quantity):
    q = str(quantity)
    return int(q[:-1]) / 1000 if q.endswith("m") else float(q)


class Render:
    def __init__(self, path):
        self.path = path
        self.docs = load(path)
        self.errors = []
        self.by_kind = {}
        for d in self.docs:
            self.by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d

    def fail(self, where, message):
        self.errors.append(f"{self.path}: {where}: {message}")

    def env_of(self, container):
        """The container's environment as far as the manifests tell: ConfigMaps it reads (in
        order, later wins), then its literal env. Secrets are not in the render."""
        env = dict(DEFAULTS)
        for source in container.get("envFrom", []):
            ref = source.get("configMapRef")
            if ref:
                cm = self.by_kind.get("ConfigMap", {}).get(ref["name"])
                if cm is None and not ref.get("optional"):
                    self.fail(container["name"], f"reads ConfigMap {ref['name']}, not rendered")
                env.update((cm or {}).get("data", {}))
        for var in container.get("env", []):
            if "value" in var:
                env[var["name"]] = var["value"]
        return env

    def keel_containers(self):
        for name, dep in self.by_kind.get("Deployment", {}).items():
            for c in dep["spec"]["template"]["spec"]["containers"]:
                args = c.get("args") or []
                if args[:1] in (["serve"], ["worker"]):
                    yield name, dep, c


def queues_of(container):
    args = container.get("args") or []
    if "--queues" not in args:
        return []
    return args[args.index("--queues") + 1].split(",")


def check_scaled_object(r, so):
    name = so["metadata"]["name"]
    spec = so["spec"]
    ref = spec["scaleTargetRef"]
    if ref.get("kind", "Deployment") != "Deployment":
        r.fail(name, "scales something other than a Deployment")
        return
    dep = r.by_kind.get("Deployment", {}).get(ref["name"])
    if dep is None:
        r.fail(name, f"scales Deployment {ref['name']}, which is not rendered")
        return
    containers = dep["spec"]["template"]["spec"]["containers"]
    wanted = ref.get("envSourceContainerName", containers[0]["name"])
    container = next(c for c in containers if c["name"] == wanted)
    api = (container.get("args") or [])[:1] == ["serve"]
    queues = list(API_QUEUES) if api else queues_of(container)
    if not queues:
        r.fail(name, f"{ref['name']} runs neither `serve` nor `worker --queues …`")
        return
    env = r.env_of(container)
    prefix = env["KEEL_QUEUE_PREFIX"]

    listed = {}
    resource_triggers = []
    for t in spec["triggers"]:
        tname = t.get("name", "")
        if t["type"] in RESOURCE_TRIGGERS:
            resource_triggers.append(t)
            continue
        if t["type"] not in ("redis", "redis-cluster"):
            r.fail(name, f"trigger {tname or t['type']} is not a redis trigger")
            continue
        list_name = t.get("metadata", {}).get("listName", "")
        m = re.fullmatch(re.escape(prefix) + r":([^:]+):([a-z]+)", list_name)
        if not m or m.group(1) not in queues or m.group(2) not in COUNTED_KEYS + OPTIONAL_KEYS:
            r.fail(
                name,
                f"trigger {tname}: listName {list_name!r} is not {prefix}:<queue>:<key> for a "
                f"queue of {ref['name']} ({','.join(queues)}) under its KEEL_QUEUE_PREFIX",
            )
            continue
        if tname != f"{m.group(1)}_{m.group(2)}":
            r.fail(name, f"trigger {tname!r} counts {list_name}: name it {m.group(1)}_{m.group(2)}")
        if tname in listed:
            r.fail(name, f"trigger {tname} twice")
        listed[tname] = list_name
    for q in queues:
        for key in COUNTED_KEYS:
            if f"{q}_{key}" not in listed:
                r.fail(name, f"no trigger counts {prefix}:{q}:{key}")

    requests = container.get("resources", {}).get("requests", {})
    for t in resource_triggers:
        if "containerName" in t.get("metadata", {}):
            r.fail(
                name,
                f"{t['type']} trigger names a container: KEDA makes that a ContainerResource "
                "metric, which its HPA loses when there is a formula (controllers/keda/hpa.go)",
            )
        if t["type"] not in requests:
            r.fail(name, f"{t['type']} trigger, but {ref['name']} requests no {t['type']}")
    if api and not any(
        t["type"] == "cpu" and t.get("metricType") == "Utilization" for t in resource_triggers
    ):
        r.fail(
            name,
            "the API must keep a cpu trigger (metricType Utilization): its CPU follows requests",
        )

    mods = spec.get("advanced", {}).get("scalingModifiers", {})
    formula = mods.get("formula", "")
    used = set(IDENTIFIER.findall(formula))
    for ident in sorted(used - set(listed)):
        r.fail(name, f"formula uses {ident}, which is no redis trigger")
    for tname in sorted(set(listed) - used):
        r.fail(name, f"trigger {tname} is polled but not in the formula")
    if mods.get("metricType") != "AverageValue":
        r.fail(name, "scalingModifiers.metricType must be AverageValue (jobs per pod)")

    target = str(mods.get("target", ""))
    # KEDA's fallback needs an integer target (strconv.ParseInt in pkg/fallback).
    if api:
        # Agent runs wait on the LLM and tools, not the CPU: the API's per-pod count is its own
        # setting, not its CPU limit.
        concurrency = env["KEEL_AGENT_CONCURRENCY"]
        if target != concurrency:
            r.fail(
                name,
                f"target {target!r} is not {ref['name']}'s KEEL_AGENT_CONCURRENCY ({concurrency})",
            )
        return
    limit = container.get("resources", {}).get("limits", {}).get("cpu")
    cores = cpu_cores(limit) if limit is not None else None
    if cores is None or cores != int(cores) or cores < 1:
        r.fail(name, f"{ref['name']}: CPU limit {limit!r} is not a whole number of cores")
        return
    concurrency = env.get("KEEL_WORKER_CONCURRENCY", str(int(cores)))
    if concurrency != str(int(cores)):
        r.fail(
            name,
            f"{ref['name']}: KEEL_WORKER_CONCURRENCY {concurrency} differs from its CPU limit "
            f"({int(cores)} core(s))",
        )
    if target != concurrency:
        r.fail(
            name,
            f"target {target!r} is not {ref['name']}'s KEEL_WORKER_CONCURRENCY ({concurrency})",
        )


def check_shutdown(r, dep_name, dep, container):
    pod = dep["spec"]["template"]["spec"]
    env = r.env_of(container)
    where = f"{dep_name}/{container['name']}"
    grace_ms = int(env["KEEL_SHUTDOWN_GRACE_MS"])
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    pre_stop_ms = int(pre_stop.get("sleep", {}).get("seconds", 0)) * 1000
    termination_ms = int(pod.get("terminationGracePeriodSeconds", 30)) * 1000
    if termination_ms <= grace_ms + pre_stop_ms:
        r.fail(
            where,
            f"terminationGracePeriodSeconds ({termination_ms // 1000}) must exceed preStop "
            f"({pre_stop_ms // 1000} s) + KEEL_SHUTDOWN_GRACE_MS ({grace_ms} ms)",
        )
    for q in queues_of(container):
        if q in JOB_TIMEOUTS and grace_ms < int(env[JOB_TIMEOUTS[q]]):
            r.fail(
                where,
                f"KEEL_SHUTDOWN_GRACE_MS ({grace_ms}) is shorter than one {q} job may run "
                f"({JOB_TIMEOUTS[q]}={env[JOB_TIMEOUTS[q]]})",
            )
    for probe, path in (
        ("startupProbe", "/health/ready"),
        ("readinessProbe", "/health/ready"),
        ("livenessProbe", "/health/live"),
    ):
        got = container.get(probe, {}).get("httpGet", {}).get("path")
        if got != path:
            r.fail(where, f"{probe} must GET {path} (has {got!r})")


def check_replicas(r):
    hpas = r.by_kind.get("HorizontalPodAutoscaler", {}).values()
    by_hpa = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in hpas}
    scaled_objects = r.by_kind.get("ScaledObject", {}).values()
    by_keda = {so["spec"]["scaleTargetRef"]["name"] for so in scaled_objects}
    for name in sorted(by_hpa & by_keda):
        r.fail(name, "is scaled by an HPA and a ScaledObject, whose own HPA would fight the first")
    for name in sorted(by_hpa | by_keda):
        dep = r.by_kind.get("Deployment", {}).get(name)
        if dep is not None and "replicas" in dep["spec"]:
            r.fail(name, "is autoscaled, so it must not set spec.replicas (each apply resets it)")


def wiring(paths):
    errors = []
    for path in paths:
        r = Render(path)
        scaled_objects = r.by_kind.get("ScaledObject", {})
        for so in scaled_objects.values():
            check_scaled_object(r, so)
        containers = list(r.keel_containers())
        for dep_name, dep, container in containers:
            check_shutdown(r, dep_name, dep, container)
        check_replicas(r)
        if r.errors:
            errors.extend(r.errors)
        else:
            print(
                f"wiring: {path}: ok ({len(scaled_objects)} ScaledObjects, "
                f"{len(containers)} Keel containers)"
            )
    for e in errors:
        print(f"wiring: {e}", file=sys.stderr)
    return 1 if errors else 0


def main(argv):
    if len(argv) == 2 and argv[0] == "to-json":
        json.dump(load(argv[1]), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if len(argv) >= 2 and argv[0] == "wiring":
        return wiring(argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
