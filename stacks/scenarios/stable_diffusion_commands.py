"""The Stable Diffusion tutorial's follow-up commands, with the names an instance renders (its stack output)."""

from gke_tpu_serving.ray.cluster_args import auth_token_secret_name, head_service_name
from gke_tpu_serving.ray.ray_service import serve_service_name

from ..model import Placement
from .ray_operator import stack_generates_ray_token
from .stable_diffusion_weights import STAGING_JOB


def commands(placement: Placement, service: str) -> dict[str, str]:
    """The tutorial's follow-up commands with this instance's names: port-forward to the Serve Service, then its
    client `python stable_diffusion_tpu_req.py --save_pictures` (which calls http://localhost:8000/imagine), a curl,
    the RayService's status (Pulumi does not wait for custom resources), the Ray token where the stack keeps it and
    the staging Job's logs. `service` is the
    instance's RayService name."""
    namespace = placement.namespace
    result = {
        "portForward": f"kubectl -n {namespace} port-forward svc/{serve_service_name(service)} 8000:8000",
        "client": "python stable_diffusion_tpu_req.py --save_pictures",
        "imagine": "curl -o image.png 'http://localhost:8000/imagine?prompt=a%20lighthouse%20at%20dawn'",
        "status": f"kubectl -n {namespace} get rayservice {service}",
        "dashboard": f"kubectl -n {namespace} port-forward svc/{head_service_name(service)} 8265:8265",
    }
    if stack_generates_ray_token(placement):
        # The dashboard asks for it; `ray job submit` reads it from RAY_AUTH_TOKEN (with RAY_AUTH_MODE=token).
        result["rayToken"] = (
            f"kubectl -n {namespace} get secret {auth_token_secret_name(service)} "
            "-o jsonpath='{.data.auth_token}' | base64 -d"
        )
    if placement.settings.get("stage_weights"):
        result["stagingLogs"] = f"kubectl -n {namespace} logs -f job/{placement.physical(STAGING_JOB)}"
    return result
