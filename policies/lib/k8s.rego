# Shared helpers: where the pods and containers of an object are, and how to name things.
# Every path is a JSONPath into the object so findings can point at the line.
package lib.k8s

import rego.v1

# Kinds whose pod template sits at spec.template.
template_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Rollout"}

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

# Pod specs by the JSONPath of the pod spec: {"spec": <pod spec>, "path": <that path>}.
# Objects keyed by path rather than sets of objects: rego-cpp hashes set members, which is slow
# for whole pod specs. `some pod in k8s.pods` iterates the values either way.
pods["$.spec"] := {"spec": input.spec, "path": "$.spec"} if {
	input.kind == "Pod"
	is_object(input.spec)
}

pods["$.spec.template.spec"] := {"spec": input.spec.template.spec, "path": "$.spec.template.spec"} if {
	input.kind in template_kinds
	is_object(input.spec.template.spec)
}

pods["$.spec.jobTemplate.spec.template.spec"] := {"spec": spec, "path": "$.spec.jobTemplate.spec.template.spec"} if {
	input.kind == "CronJob"
	spec := input.spec.jobTemplate.spec.template.spec
	is_object(spec)
}

# Argo Workflows: the workflow spec carries the pod-level settings of its templates.
workflow_spec := input.spec if input.kind == "WorkflowTemplate"

workflow_spec := input.spec.workflowSpec if input.kind == "CronWorkflow"

workflow_path := "$.spec" if input.kind == "WorkflowTemplate"

workflow_path := "$.spec.workflowSpec" if input.kind == "CronWorkflow"

pods[workflow_path] := {"spec": workflow_spec, "path": workflow_path} if is_object(workflow_spec)

# Containers: {"container", "path", "pod_security" (the pod-level securityContext), "init"}.
# Entries carry only the pod's securityContext, not the whole pod spec: sets of large objects
# are expensive to build and compare.
containers[path] := {"container": c, "path": path, "pod_security": pod_security(pod), "init": field == "initContainers"} if {
	some pod in pods
	some field in ["initContainers", "containers"]
	some i, c in object.get(pod.spec, field, [])
	path := sprintf("%s.%s[%d]", [pod.path, field, i])
}

containers[path] := {"container": c, "path": path, "pod_security": pod_security(pod), "init": false} if {
	some pod in pods
	pod.path == workflow_path
	some i, template in object.get(workflow_spec, "templates", [])
	some field in ["container", "script"]
	c := template[field]
	path := sprintf("%s.templates[%d].%s", [workflow_path, i, field])
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
