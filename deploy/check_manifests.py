#!/usr/bin/env python3
"""Contract checks on rendered kustomize output (run by deploy/check.sh).

Schema validity is checked elsewhere (kubernetes-validate); this file checks
the deployment rules that a schema cannot express: hardened pods, probes on the
documented endpoints, the public/internal Ingress split, and what each overlay
must (not) contain.

Usage: check_manifests.py VARIANT RENDERED.yaml
VARIANT is one of: base, sqlite, postgres (a "+oauth" suffix means the
oauth-token-endpoint component is included).
"""

import sys

import yaml

PUBLIC_CLASS = "nginx"
PUBLIC_PATHS = {("/scim/v2", "Prefix", "scim-api"), ("/portal", "Prefix", "token-admin-portal")}
# The Service behind the public /portal path may expose the portal listener only.
PORTAL_SERVICE = "token-admin-portal"
PORTAL_PORTS = [8082]
OAUTH_PATH = ("/oauth2/token", "Exact", "token-admin")

errors = []


def fail(msg):
    errors.append(msg)


def pod_spec(obj):
    return obj["spec"]["template"]["spec"]


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def check_pod(kind, name, spec, long_running):
    where = f"{kind}/{name}"
    if spec.get("automountServiceAccountToken") is not False:
        fail(f"{where}: automountServiceAccountToken must be false")
    psc = spec.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True:
        fail(f"{where}: pod securityContext.runAsNonRoot must be true")
    if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        fail(f"{where}: pod seccompProfile must be RuntimeDefault")
    if long_running and "terminationGracePeriodSeconds" not in spec:
        fail(f"{where}: terminationGracePeriodSeconds must be set")
    for c in spec["containers"]:
        cw = f"{where} container {c['name']}"
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False:
            fail(f"{cw}: allowPrivilegeEscalation must be false")
        if sc.get("readOnlyRootFilesystem") is not True:
            fail(f"{cw}: readOnlyRootFilesystem must be true")
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            fail(f"{cw}: capabilities.drop must be [ALL]")
        res = c.get("resources", {})
        for part in ("requests", "limits"):
            for key in ("cpu", "memory"):
                if key not in res.get(part, {}):
                    fail(f"{cw}: resources.{part}.{key} missing")
        if long_running:
            probes = {
                "livenessProbe": "/healthz",
                "readinessProbe": "/readyz",
                "startupProbe": "/healthz",
            }
            for probe, path in probes.items():
                got = c.get(probe, {}).get("httpGet", {}).get("path")
                if got != path:
                    fail(f"{cw}: {probe} must GET {path} (got {got})")


def main():
    variant, path = sys.argv[1], sys.argv[2]
    base_variant = variant.split("+")[0]
    oauth = variant.endswith("+oauth")
    with open(path, encoding="utf-8") as fh:
        docs = [d for d in yaml.safe_load_all(fh) if d]

    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
        if d["kind"] != "Namespace" and d["metadata"].get("namespace") != "scim":
            fail(f"{d['kind']}/{d['metadata']['name']}: not in namespace scim")

    if by_kind.get("Secret"):
        fail("no Secret may be rendered: the operator creates scim-secrets (secret.example.yaml is an example)")
    for kind in ("Deployment", "Job"):
        for name, w in by_kind.get(kind, {}).items():
            if pod_spec(w).get("enableServiceLinks") is not False:
                fail(f"{kind}/{name}: enableServiceLinks must be false (Service env vars collide with SCIM_*)")

    deployments = by_kind.get("Deployment", {})
    jobs = by_kind.get("Job", {})
    for name, d in deployments.items():
        check_pod("Deployment", name, pod_spec(d), long_running=True)
    for name, j in jobs.items():
        check_pod("Job", name, pod_spec(j), long_running=False)

    # Ingress split: the public class carries only the SCIM API (and, with the
    # component, exactly the OAuth token endpoint).
    allowed_public = set(PUBLIC_PATHS) | ({OAUTH_PATH} if oauth else set())
    seen_public = set()
    for name, ing in by_kind.get("Ingress", {}).items():
        cls = ing["spec"].get("ingressClassName")
        for rule in ing["spec"].get("rules", []):
            for p in rule.get("http", {}).get("paths", []):
                entry = (p["path"], p["pathType"], p["backend"]["service"]["name"])
                if cls == PUBLIC_CLASS:
                    seen_public.add(entry)
                    if entry not in allowed_public:
                        fail(f"Ingress/{name}: {entry} must not be on the public class")
                elif not entry[0].startswith(("/admin", "/identity")):
                    fail(f"Ingress/{name}: unexpected internal path {entry}")
    if seen_public != allowed_public:
        fail(f"public Ingress paths {sorted(seen_public)} != {sorted(allowed_public)}")

    portal = by_kind.get("Service", {}).get(PORTAL_SERVICE)
    if portal is None:
        fail(f"Service/{PORTAL_SERVICE} missing")
    elif [p["port"] for p in portal["spec"]["ports"]] != PORTAL_PORTS:
        fail(f"Service/{PORTAL_SERVICE} must expose only {PORTAL_PORTS} (the admin API stays internal)")

    deny = by_kind.get("NetworkPolicy", {}).get("default-deny")
    if not deny or deny["spec"].get("podSelector") != {} or "Ingress" not in deny["spec"].get("policyTypes", []):
        fail("NetworkPolicy/default-deny (podSelector {}, Ingress) missing")

    api = deployments.get("scim-api")
    if api is None:
        fail("Deployment/scim-api missing")
        return finish(variant)
    api_env = env_of(pod_spec(api)["containers"][0])

    if base_variant == "sqlite":
        if set(deployments) != {"scim-api"}:
            fail(f"sqlite: expected only Deployment/scim-api, got {sorted(deployments)}")
        if api["spec"].get("replicas") != 1:
            fail("sqlite: scim-api must have exactly 1 replica")
        if api["spec"].get("strategy", {}) != {"type": "Recreate"}:
            fail("sqlite: scim-api strategy must be Recreate")
        for kind in ("HorizontalPodAutoscaler", "PodDisruptionBudget", "Job"):
            if by_kind.get(kind):
                fail(f"sqlite: no {kind} expected")
        spec = pod_spec(api)
        names = [c["name"] for c in spec["containers"]]
        if names != ["scim-api", "token-admin"]:
            fail(f"sqlite: pod containers {names}")
        for c in spec["containers"]:
            if not any(m["mountPath"] == "/data" and m["name"] == "data" for m in c.get("volumeMounts", [])):
                fail(f"sqlite: container {c['name']} must mount /data")
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        if vols.get("data", {}).get("persistentVolumeClaim", {}).get("claimName") not in by_kind.get(
            "PersistentVolumeClaim", {}
        ):
            fail("sqlite: /data must be the PersistentVolumeClaim")
        if "SCIM_RUN_MIGRATIONS" in api_env:
            fail("sqlite: scim-api must migrate at start-up")
        labels = api["spec"]["template"]["metadata"]["labels"]
        svc = by_kind["Service"]["token-admin"]["spec"]["selector"]
        if not all(labels.get(k) == v for k, v in svc.items()):
            fail("sqlite: Service/token-admin does not select the single pod")

    if base_variant == "postgres":
        if api_env.get("SCIM_RUN_MIGRATIONS", {}).get("value") != "false":
            fail("postgres: scim-api needs SCIM_RUN_MIGRATIONS=false")
        job = jobs.get("scim-migrate")
        if job is None:
            fail("postgres: Job/scim-migrate missing")
        else:
            c = pod_spec(job)["containers"][0]
            if c.get("args") != ["migrate"] or not c.get("command", [""])[0].endswith("token-admin"):
                fail("postgres: the migration Job must run `token-admin migrate`")
        workloads = [("scim-api", api), ("token-admin", deployments.get("token-admin")), ("scim-migrate", job)]
        for name, w in workloads:
            if w is None:
                fail(f"postgres: {name} missing")
                continue
            ref = env_of(pod_spec(w)["containers"][0]).get("SCIM_DATABASE_URL", {})
            if "secretKeyRef" not in ref.get("valueFrom", {}):
                fail(f"postgres: {name} must take SCIM_DATABASE_URL from a Secret")
        hpa = by_kind.get("HorizontalPodAutoscaler", {}).get("scim-api")
        if not hpa or hpa["spec"].get("minReplicas", 1) < 2:
            fail("postgres: HPA for scim-api with minReplicas >= 2 expected")
        if "scim-api" not in by_kind.get("PodDisruptionBudget", {}):
            fail("postgres: PodDisruptionBudget/scim-api missing")
        if "replicas" in api["spec"]:
            fail("postgres: scim-api replicas must be left to the HPA")

    return finish(variant)


def finish(variant):
    if errors:
        for e in errors:
            print(f"ERROR [{variant}] {e}", file=sys.stderr)
        return 1
    print(f"manifest contract [{variant}]: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
