"""Minimal resources for the policy pack's tests: one good resource per kind, and edits that break one rule each.

`recorded(...)` builds a resource as the offline preview records it (camelCase inputs, "[unknown]" and "[secret]"
stand-ins), so the tests run it through `policy.adapter` exactly like a resource of a real preview.
"""

import copy
from typing import Any, Final

from gke_tpu_serving.offline import UNKNOWN, PreviewResult, RecordedResource

PROJECT = "gke-tpu-serving"
STACK = "test"

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
BUCKET = "gcp:storage/bucket:Bucket"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
PROJECT_BINDING = "gcp:projects/iAMBinding:IAMBinding"
PROJECT_POLICY = "gcp:projects/iAMPolicy:IAMPolicy"
FOLDER_BINDING = "gcp:folder/iAMBinding:IAMBinding"
ORGANIZATION_MEMBER = "gcp:organizations/iAMMember:IAMMember"
BUCKET_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
SERVICE = "kubernetes:core/v1:Service"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
POD = "kubernetes:core/v1:Pod"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
JOB = "kubernetes:batch/v1:Job"
CRON_JOB = "kubernetes:batch/v1:CronJob"
JOB_SET = "kubernetes:jobset.x-k8s.io/v1alpha2:JobSet"
RAY_SERVICE = "kubernetes:ray.io/v1:RayService"
RAY_CLUSTER = "kubernetes:ray.io/v1:RayCluster"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"

NODE_ACCOUNT = "serve-nodes@my-project.iam.gserviceaccount.com"
DEFAULT_COMPUTE_ACCOUNT = "123456789012-compute@developer.gserviceaccount.com"
IMAGE = "us-central1-docker.pkg.dev/my-project/serving/server:1.4.2"

DELETE: Final = object()
"""An edit value that removes the key."""


def recorded(type_token: str, name: str, inputs: dict[str, Any], *, protect: bool = False) -> RecordedResource:
    return RecordedResource(
        urn=f"urn:pulumi:{STACK}::{PROJECT}::{type_token}::{name}",
        type=type_token,
        name=name,
        parent=f"urn:pulumi:{STACK}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{STACK}",
        inputs=inputs,
        options={"protect": True} if protect else {},
        custom=True,
    )


def preview(*resources: RecordedResource) -> PreviewResult:
    return PreviewResult(PROJECT, STACK, list(resources))


def edited(base: dict[str, Any], edits: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of `base` with each dotted path ("spec.template.spec.containers.0.image") set, or removed
    where the value is DELETE; missing mappings on the way are created."""
    result = copy.deepcopy(base)
    for path, value in edits.items():
        *parents, last = path.split(".")
        node: Any = result
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        if isinstance(node, list):
            node[int(last)] = value
        elif value is DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    return result


def all_unknown(value: Any) -> Any:
    """The same structure with every leaf unknown, as a preview shows values computed from other resources."""
    if isinstance(value, dict):
        return {key: all_unknown(item) for key, item in value.items()}
    if isinstance(value, list):
        return [all_unknown(item) for item in value]
    return UNKNOWN


def _node_config(machine_type: str) -> dict[str, Any]:
    return {
        "machineType": machine_type,
        "serviceAccount": NODE_ACCOUNT,
        "workloadMetadataConfig": {"mode": "GKE_METADATA"},
        "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True},
    }


GOOD_CLUSTER: Final = {
    "name": "serve",
    "location": "us-central1",
    "enableShieldedNodes": True,
    "releaseChannel": {"channel": "REGULAR"},
    "workloadIdentityConfig": {"workloadPool": "my-project.svc.id.goog"},
    "removeDefaultNodePool": True,
    "controlPlaneEndpointsConfig": {
        "dnsEndpointConfig": {"allowExternalTraffic": True},
        "ipEndpointsConfig": {"enabled": False},
    },
    "nodeConfig": {key: value for key, value in _node_config("e2-standard-4").items() if key != "machineType"},
}

SINGLE_HOST_POOL: Final = {"cluster": "serve", "nodeConfig": _node_config("ct6e-standard-8t"), "nodeCount": 1}

MULTI_HOST_POOL: Final = {
    "cluster": "serve",
    "nodeConfig": _node_config("ct5lp-hightpu-4t"),
    "nodeCount": 8,
    "placementPolicy": {"type": "COMPACT", "tpuTopology": "4x8"},
}

GOOD_BUCKET: Final = {
    "name": "my-project-weights",
    "location": "US-CENTRAL1",
    "uniformBucketLevelAccess": True,
    "publicAccessPrevention": "enforced",
    "forceDestroy": False,
}

CACHE_BUCKET: Final = edited(GOOD_BUCKET, {"labels": {"gke-tpu-serving-contents": "regenerable-cache"}})

GOOD_SERVICE: Final = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "server", "namespace": "serving"},
    "spec": {"type": "ClusterIP", "ports": [{"port": 8000, "targetPort": "http"}], "selector": {"app": "server"}},
}

GOOD_PDB: Final = {
    "apiVersion": "policy/v1",
    "kind": "PodDisruptionBudget",
    "metadata": {"name": "server", "namespace": "serving"},
    "spec": {
        "maxUnavailable": 1,
        "selector": {"matchLabels": {"app": "server"}},
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
    },
}

_HEALTH = {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 10}


def container(name: str = "server", **fields: Any) -> dict[str, Any]:
    """A container that passes every rule; `fields` add or replace its fields."""
    return {
        "name": name,
        "image": IMAGE,
        "resources": {"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"memory": "8Gi"}},
        "readinessProbe": _HEALTH,
        "livenessProbe": _HEALTH,
        "securityContext": {"allowPrivilegeEscalation": False},
        **fields,
    }


def batch_container(name: str = "worker", **fields: Any) -> dict[str, Any]:
    """A container of a pod that runs to completion: no probes."""
    return {key: value for key, value in container(name, **fields).items() if not key.endswith("Probe")}


def pod_template(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "server"}}, "spec": {"containers": list(containers), **spec}}


def workload(kind: str, template: dict[str, Any], api_version: str = "apps/v1") -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "server", "namespace": "serving"},
        "spec": {"selector": {"matchLabels": {"app": "server"}}, "template": template},
    }


GOOD_DEPLOYMENT: Final = workload("Deployment", pod_template(container()))
GOOD_JOB: Final = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "stage", "namespace": "serving"},
    "spec": {"backoffLimit": 0, "template": pod_template(batch_container(), restartPolicy="Never")},
}
GOOD_CRON_JOB: Final = {
    "apiVersion": "batch/v1",
    "kind": "CronJob",
    "metadata": {"name": "sync", "namespace": "serving"},
    "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": GOOD_JOB["spec"]}},
}

TPU_RESOURCES: Final = {"requests": {"google.com/tpu": "4"}, "limits": {"google.com/tpu": "4"}}

GOOD_JOB_SET: Final = {
    "apiVersion": "jobset.x-k8s.io/v1alpha2",
    "kind": "JobSet",
    "metadata": {"name": "sax-model", "namespace": "saxml"},
    "spec": {
        "replicatedJobs": [
            {
                "name": "slice",
                "replicas": 2,
                "template": {
                    "spec": {
                        "parallelism": 8,
                        "completions": 8,
                        "backoffLimit": 0,
                        "template": pod_template(batch_container("model-server", resources=TPU_RESOURCES)),
                    }
                },
            }
        ]
    },
}


def ray_container(name: str, **fields: Any) -> dict[str, Any]:
    """A Ray container (containers[0] of a Ray pod): no probes, KubeRay injects them."""
    return {"name": name, "image": "rayproject/ray:2.49.0-py311", **fields}


def ray_cluster_spec() -> dict[str, Any]:
    return {
        "rayVersion": "2.49.0",
        "authOptions": {"mode": "token"},
        "headGroupSpec": {
            "rayStartParams": {},
            "template": pod_template(ray_container("ray-head", resources={"requests": {"cpu": "2", "memory": "8Gi"}})),
        },
        "workerGroupSpecs": [
            {
                "groupName": "tpu",
                "replicas": 1,
                "minReplicas": 1,
                "maxReplicas": 1,
                "numOfHosts": 1,
                "rayStartParams": {},
                "template": pod_template(ray_container("ray-worker", resources=TPU_RESOURCES)),
            }
        ],
    }


GOOD_RAY_SERVICE: Final = {
    "apiVersion": "ray.io/v1",
    "kind": "RayService",
    "metadata": {"name": "stable-diffusion", "namespace": "sd"},
    "spec": {"serveConfigV2": "applications: []\n", "rayClusterConfig": ray_cluster_spec()},
}

GOOD_RAY_CLUSTER: Final = {
    "apiVersion": "ray.io/v1",
    "kind": "RayCluster",
    "metadata": {"name": "research", "namespace": "ray"},
    "spec": ray_cluster_spec(),
}

PUBLIC_SERVICE_WITHOUT_AUTH: Final = {
    **GOOD_SERVICE,
    "metadata": {"name": "server", "namespace": "serving", "annotations": {"gke-tpu-serving/public-exposure": "true"}},
    "spec": {**GOOD_SERVICE["spec"], "type": "LoadBalancer"},
}
"""A hand-built public load balancer in front of GOOD_DEPLOYMENT, which authenticates nothing: it carries the
public-exposure opt-in, so only the authentication rule can catch it."""

API_KEY_ENV: Final = {"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": "server-secrets", "key": "key"}}}
DEPLOYMENT_WITH_API_KEY: Final = workload("Deployment", pod_template(container(env=[API_KEY_ENV])))
"""GOOD_DEPLOYMENT as a vLLM server that requires its API key, read from a Secret."""
