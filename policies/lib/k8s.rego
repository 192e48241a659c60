# Shared helpers: where the pods and containers of an object are, and how to name things.
# Every path is a JSONPath into the object so findings can point at the line.
package lib.k8s

import rego.v1

# Long-running workloads (probes, replicas, spread apply to these).
service_kinds := {"Deployment", "StatefulSet", "Rollout"}

# Defaults come from `else` rather than object.get: rego-cpp 1.5 mangles an object.get default
# string when it is later formatted with sprintf.
name := value if {
	value := input.metadata.name
	is_string(value)
} else := "(unnamed)"

namespace := value if {
	value := input.metadata.namespace
	is_string(value)
} else := ""

# "Rollout model-api" — how messages name the object.
subject := sprintf("%s %s", [input.kind, name])

is_production if namespace in data.gitops.production_namespaces

# The pod-bearing kinds and where their pods are: data.gitops.pod_kinds and
# data.gitops.workflow_kinds (policies/data.yaml), the one list that gitops validate's Pod
# Security check and reference checks read too. Matched on kind and API group.
api_group := group if {
	parts := split(input.apiVersion, "/")
	count(parts) == 2
	group := parts[0]
} else := ""

pod_kind := entry if {
	entry := data.gitops.pod_kinds[input.kind]
	api_group in entry.groups
}

workflow_kind := entry if {
	entry := data.gitops.workflow_kinds[input.kind]
	api_group in entry.groups
}

# "$.spec.template" for ["spec", "template"]; "$" for [] (the object itself). Spelled out per
# length: rego-cpp 1.5 garbles a string built by concat when it is later formatted by sprintf.
json_path(keys) := "$" if count(keys) == 0

json_path(keys) := sprintf("$.%s", [keys[0]]) if count(keys) == 1

json_path(keys) := sprintf("$.%s.%s", [keys[0], keys[1]]) if count(keys) == 2

json_path(keys) := sprintf("$.%s.%s.%s", [keys[0], keys[1], keys[2]]) if count(keys) == 3

json_path(keys) := sprintf("$.%s.%s.%s.%s", [keys[0], keys[1], keys[2], keys[3]]) if count(keys) == 4

at(keys) := input if {
	count(keys) == 0
} else := object.get(input, keys, null)

# Pod specs by the JSONPath of the pod spec: {"spec": <pod spec>, "path": <that path>}.
# Objects keyed by path rather than sets of objects: rego-cpp hashes set members, which is slow
# for whole pod specs. `some pod in data.lib.k8s.pods` iterates the values either way.
pods[path] := {"spec": spec, "path": path} if {
	spec := at(pod_kind.pod).spec
	is_object(spec)
	path := sprintf("%s.spec", [json_path(pod_kind.pod)])
}

# Argo Workflows: the workflow spec carries the pod-level settings of its templates.
workflow_spec := spec if {
	spec := at(workflow_kind.spec)
	is_object(spec)
}

workflow_path := json_path(workflow_kind.spec)

pods[workflow_path] := {"spec": workflow_spec, "path": workflow_path} if is_object(workflow_spec)

# Containers: {"container", "path", "pod_security" (the pod-level securityContext), "init"}.
# Entries carry only the pod's securityContext, not the whole pod spec: sets of large objects
# are expensive to build and compare.
containers[path] := {"container": c, "path": path, "pod_security": pod_security(pod), "init": field == "initContainers"} if {
	some pod in pods
	some field in ["initContainers", "containers", "ephemeralContainers"]
	some i, c in object.get(pod.spec, field, [])
	path := sprintf("%s.%s[%d]", [pod.path, field, i])
}

# Argo templates: container, script, containerSet.containers[], initContainers[], sidecars[].
containers[path] := {"container": c, "path": path, "pod_security": pod_security(pod), "init": false} if {
	some pod in pods
	pod.path == workflow_path
	some i, template in object.get(workflow_spec, "templates", [])
	some field in ["container", "script"]
	c := template[field]
	path := sprintf("%s.templates[%d].%s", [workflow_path, i, field])
}

containers[path] := {"container": c, "path": path, "pod_security": pod_security(pod), "init": field == "initContainers"} if {
	some pod in pods
	pod.path == workflow_path
	some i, template in object.get(workflow_spec, "templates", [])
	some field in ["initContainers", "sidecars"]
	some j, c in object.get(template, field, [])
	path := sprintf("%s.templates[%d].%s[%d]", [workflow_path, i, field, j])
}

containers[path] := {"container": c, "path": path, "pod_security": pod_security(pod), "init": false} if {
	some pod in pods
	pod.path == workflow_path
	some i, template in object.get(workflow_spec, "templates", [])
	some j, c in object.get(template, ["containerSet", "containers"], [])
	path := sprintf("%s.templates[%d].containerSet.containers[%d]", [workflow_path, i, j])
}

# Pod templates of long-running services (not Jobs or workflows).
service_pods[path] := pod if {
	input.kind in service_kinds
	some path, pod in pods
}

pod_security(pod) := object.get(pod.spec, "securityContext", {})

container_name(c) := value if {
	value := c.name
	is_string(value)
} else := "(unnamed)"

# The value of a security setting for a container: container level wins over pod level.
security(entry, key) := value if {
	value := entry.container.securityContext[key]
} else := value if {
	value := entry.pod_security[key]
}

# Result object: message plus the JSONPath it is about.
result(msg, path) := {"msg": msg, "path": path}
