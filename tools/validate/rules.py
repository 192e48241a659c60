"""What each rule id means, for reports that describe their rules (SARIF's ``tool.driver.rules``).

The built-in checks are described here, in the words of docs/VALIDATE.md's rule table (a test
keeps the two in step); Rego rules describe themselves in their ``# METADATA`` block (``title``,
``description``, ``related_resources``, read by checks/policies.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

DOCS = "https://github.com/example-org/mlops-gitops/blob/main/docs/VALIDATE.md"
RULES_ANCHOR = f"{DOCS}#what-it-checks-rule-ids"


@dataclass(frozen=True)
class RuleDoc:
    """A rule's title (one line), description (a paragraph) and where to read more."""

    title: str
    description: str = ""
    help_uri: str = RULES_ANCHOR
    related: tuple[tuple[str, str], ...] = field(default=())  # (URL, what it is)


def _doc(title: str, description: str, anchor: str = "what-it-checks-rule-ids") -> RuleDoc:
    return RuleDoc(title, description, f"{DOCS}#{anchor}")


BUILTIN: dict[str, RuleDoc] = {
    "render": _doc(
        "kustomize build fails",
        "A kustomization does not render (kustomize's own message is included), loops, or "
        "pulls in an object from outside the repository.",
    ),
    "remote-resource": _doc(
        "Remote kustomize reference",
        "A kustomization names something kustomize would fetch over the network (HTTP, git, a "
        "Helm chart repository, a file by URL); without --allow-remote kustomize is not run.",
    ),
    "outside-repository": _doc(
        "Link out of the repository",
        "A manifest, or a file or folder a kustomization names, is a link to something outside "
        "the repository; it is not read.",
    ),
    "parse": _doc(
        "Not a valid manifest",
        "Invalid YAML or JSON, a binary or non-UTF-8 file, a file over the size limit, nesting "
        "too deep, or a document that is not a Kubernetes object.",
    ),
    "duplicate-key": _doc(
        "Duplicate mapping key",
        "The same key twice in one mapping: Kubernetes keeps one of them silently.",
    ),
    "non-string-key": _doc(
        "Mapping key that is not a string",
        "A key YAML reads as a number or boolean (5:, true:, yes:), or a null, list or mapping "
        "key, which Kubernetes refuses.",
    ),
    "yaml-aliases": _doc(
        "YAML alias expansion over the bound",
        "Aliases that expand beyond what Kubernetes' own YAML decoder accepts, or an anchor "
        "that contains itself.",
        "yaml-limits",
    ),
    "yaml-size": _doc(
        "Decoded YAML over its budget",
        "A file, render or run whose decoded size is over its budget.",
        "yaml-limits",
    ),
    "schema": _doc(
        "Object does not match its schema",
        "Strict JSON Schema check against the Kubernetes or CRD schema: unknown fields are "
        "errors, also inside custom resources.",
    ),
    "schema-missing": _doc(
        "No schema for the kind",
        "Neither the bundled Kubernetes schemas nor a CRD describe this apiVersion and kind.",
    ),
    "crd-schema": _doc(
        "Unusable CustomResourceDefinition",
        "A CRD whose schema cannot be converted or compiled.",
    ),
    "crd-url": _doc("CRD URL cannot be fetched", "A configured CRD URL did not answer."),
    "config": _doc(
        "Configured folder missing",
        "A folder named in the configuration does not exist.",
        "configuration-validate-in-gitopstoml-or-toolgitopsvalidate-in-pyprojecttoml",
    ),
    "api-removed": _doc(
        "API version removed",
        "The apiVersion is removed in the target Kubernetes version.",
    ),
    "api-deprecated": _doc(
        "API version deprecated",
        "The apiVersion (or CRD version) is deprecated for the target Kubernetes version.",
    ),
    "pod-security/labels": _doc(
        "Pod Security label refused",
        "A pod-security.kubernetes.io/* label the API server refuses on a Namespace or in an "
        "Application's managedNamespaceMetadata.",
        "pod-security",
    ),
    "ref-service-selector": _doc(
        "Selector matches nothing",
        "A Service or ServiceMonitor selector that matches no workload in the same render.",
    ),
    "ref-rollout-service": _doc(
        "Rollout Service missing",
        "A Rollout's canary, stable, active or preview Service, or the nginx stable Ingress, "
        "does not exist.",
    ),
    "ref-analysis-template": _doc(
        "AnalysisTemplate missing",
        "An AnalysisTemplate a Rollout uses does not exist.",
    ),
    "ref-analysis-args": _doc(
        "AnalysisTemplate argument missing",
        "An argument the template needs is not passed, or a metric uses {{args.x}} that the "
        "template does not declare.",
    ),
    "ref-scale-target": _doc(
        "HPA target missing", "A HorizontalPodAutoscaler's scaleTargetRef points at nothing."
    ),
    "ref-pdb-selector": _doc(
        "PDB selects nothing", "A PodDisruptionBudget selector matches no workload."
    ),
    "ref-port-name": _doc(
        "Port name missing",
        "A probe port, Service targetPort name or ServiceMonitor endpoint port that no "
        "container declares.",
    ),
    "ref-ingress-backend": _doc(
        "Ingress backend missing", "An Ingress backend Service or port does not exist."
    ),
    "ref-configmap": _doc("ConfigMap missing", "A referenced ConfigMap does not exist."),
    "ref-secret": _doc(
        "Secret not provided",
        "A referenced Secret is not provided by a Secret, an ExternalSecret, a cert-manager "
        "Certificate or a SealedSecret.",
    ),
    "ref-service-account": _doc(
        "ServiceAccount missing", "A referenced ServiceAccount does not exist."
    ),
    "ref-app-path": _doc(
        "Argo CD Application path broken",
        "An Application path in this repository does not exist or does not render.",
    ),
    "ref-app-project": _doc(
        "Outside the AppProject",
        "An Application destination or repository that its AppProject does not allow.",
    ),
    "duplicate-object": _doc(
        "Duplicate object", "The same group, kind, namespace and name twice in one render."
    ),
    "api-name": _doc(
        "Name the API server refuses",
        "metadata.name is not a DNS-1123 subdomain (most kinds), a DNS-1123 label (Namespace) "
        "or a DNS-1035 label (Service).",
    ),
    "api-label": _doc(
        "Label or annotation the API server refuses",
        "A label or annotation key that is not a qualified name, or a label value that is not "
        "a valid label value, on the object, its pod template or its selector.",
    ),
    "api-selector": _doc(
        "Selector does not select its own pods",
        "A workload whose spec.selector is empty or does not match its own template's labels.",
    ),
    "api-port-name": _doc(
        "Port name the API server refuses",
        "A container port name that is not an IANA service name or repeats, or a Service port "
        "name that is not a DNS-1123 label, repeats, or is missing with several ports.",
    ),
    "api-resources": _doc(
        "Request above its limit",
        "A container requests more of a resource than its limit allows.",
    ),
    "api-not-served": _doc(
        "CRD version not served",
        "A custom resource in a CRD version with served: false: the API server has no endpoint "
        "for it.",
    ),
    "pdb-missing": _doc(
        "No PodDisruptionBudget",
        "A workload with more than one replica, or scaled by an HPA, that no "
        "PodDisruptionBudget selects.",
    ),
    "pdb-blocks-eviction": _doc(
        "PodDisruptionBudget blocks every eviction",
        "A PodDisruptionBudget that leaves no pod evictable at the workload's lowest replica "
        "count, so node drains hang.",
    ),
    "ref-role": _doc(
        "Role of a binding missing",
        "A RoleBinding or ClusterRoleBinding whose Role or ClusterRole is not in the render: the "
        "binding grants nothing.",
    ),
    "sa-automount": _doc(
        "ServiceAccount token mounted everywhere",
        "A ServiceAccount with automountServiceAccountToken: true used by a pod that does not "
        "turn the token off.",
    ),
    "promtool-check": _doc(
        "Prometheus rule does not load",
        "promtool check rules fails on a PrometheusRule.",
        "alert-rules",
    ),
    "promtool-test": _doc(
        "Prometheus rule test fails",
        "promtool test rules fails on a rule unit test.",
        "alert-rules",
    ),
    "policy-error": _doc(
        "Policy evaluation failed",
        "A Rego policy could not be evaluated for the object (a built-in error, or an answer "
        "that is not a set of messages).",
        "policies",
    ),
}


def builtin(rule: str) -> RuleDoc | None:
    """The description of a built-in rule id (``pod-security/<check>`` included), or None."""
    if rule in BUILTIN:
        return BUILTIN[rule]
    if rule.startswith("pod-security/"):
        check = rule.removeprefix("pod-security/")
        return _doc(
            f"Pod Security: {check}",
            f"A pod the PodSecurity admission controller refuses at its namespace's level "
            f"(check {check}).",
            "pod-security",
        )
    return None


def policy_fallback(rule: str) -> RuleDoc:
    """A Rego rule without METADATA: its name, and where policies are described."""
    return RuleDoc(rule, f"Rego policy rule {rule}.", f"{DOCS}#policies")


def describe(rule: str, policy_docs: dict[str, RuleDoc], policy_rules: set[str]) -> RuleDoc:
    """What a report says about *rule*: a policy's METADATA, a built-in's doc, or its name."""
    if rule in policy_docs:
        return policy_docs[rule]
    found = builtin(rule)
    if found is not None:
        return found
    if rule in policy_rules:
        return policy_fallback(rule)
    return RuleDoc(rule)
