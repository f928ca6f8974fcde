#!/usr/bin/env python3
"""Lays out the JSON schemas kubeconform validates Kiln's Kubernetes manifests against
(tests/e2e/kube_scaffold.sh), offline, from what registry packages ship:

  K8S_DIR  the strict schemas of one Kubernetes version from PyPI's kubernetes-validate
           (kubernetes-json-schema/vX.Y.Z-local-strict); their $refs point into
           "/api/_definitions.json", which kubeconform cannot follow from a local file, so
           each schema is made standalone: the definitions it reaches are copied into its
           own "definitions" and the $refs rewritten to "#/definitions/..."
  CRD_DIR  SpinKube's CustomResourceDefinitions (config/crd/bases/*.yaml of the
           spin-operator Go module): each version's openAPIV3Schema becomes
           GROUP/KIND_VERSION.json, made strict (additionalProperties: false on every
           object that lists its properties), as kubeconform's -strict wants
Usage: kube-schemas.py K8S_DIR CRD_DIR OUT   (writes OUT/VERSION-standalone-strict/, OUT/crd/)
"""
import json
import os
import sys

import yaml


def strict(node):
    if isinstance(node, dict):
        if (node.get("type") == "object" and "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            node["additionalProperties"] = False
        for v in node.values():
            strict(v)
    elif isinstance(node, list):
        for v in node:
            strict(v)


def main():
    k8s_dir, crd_dir, out = sys.argv[1:4]
    version = os.path.basename(k8s_dir.rstrip("/")).replace("-local-strict", "")
    dst = os.path.join(out, version + "-standalone-strict")
    os.makedirs(dst, exist_ok=True)
    with open(os.path.join(k8s_dir, "_definitions.json")) as f:
        defs = json.load(f)["$defs"]
    prefixes = ("/api/_definitions.json#/$defs/", "#/$defs/")  # from a schema / within defs

    def rewrite(node, reached):
        if isinstance(node, dict):
            ref = node.get("$ref")
            pre = next((p for p in prefixes if isinstance(ref, str) and ref.startswith(p)), None)
            if pre:
                name = ref[len(pre):]
                node["$ref"] = "#/definitions/" + name
                if name not in reached:
                    reached[name] = None
                    body = json.loads(json.dumps(defs[name]))
                    rewrite(body, reached)
                    reached[name] = body
            for k, v in node.items():
                if k != "$ref":
                    rewrite(v, reached)
        elif isinstance(node, list):
            for v in node:
                rewrite(v, reached)

    n = 0
    for name in sorted(os.listdir(k8s_dir)):
        if not name.endswith(".json") or name.startswith("_"):
            continue
        with open(os.path.join(k8s_dir, name)) as f:
            schema = json.load(f)
        reached = {}
        rewrite(schema, reached)
        if reached:
            schema["definitions"] = reached
        # kubeconform's compiler takes the schema's own draft keywords: drop the 2020-12
        # $schema and the remote $id so that "#/definitions/..." resolves in the file
        schema.pop("$schema", None)
        schema.pop("$id", None)
        with open(os.path.join(dst, name), "w") as f:
            json.dump(schema, f)
        n += 1
    m = 0
    for name in sorted(os.listdir(crd_dir)):
        if not name.endswith(".yaml"):
            continue
        with open(os.path.join(crd_dir, name)) as f:
            crd = yaml.safe_load(f)
        group = crd["spec"]["group"]
        kind = crd["spec"]["names"]["kind"].lower()
        os.makedirs(os.path.join(out, "crd", group), exist_ok=True)
        for v in crd["spec"]["versions"]:
            schema = v["schema"]["openAPIV3Schema"]
            strict(schema)
            path = os.path.join(out, "crd", group, "%s_%s.json" % (kind, v["name"]))
            with open(path, "w") as f:
                json.dump(schema, f, indent=1)
            m += 1
    print("kube-schemas: %d Kubernetes %s schemas, %d CRD schemas in %s" % (n, version, m, out))


if __name__ == "__main__":
    main()
