"""The security management API: `POST /api/security/scan` (staff session)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router
from ninja.errors import HttpError
from ninja.security import django_auth

from security.engine import CompiledPolicy, default_policy
from security.models import Policy
from security.schemas import ScanRequest, ScanResponse
from security.selectors import policy_by_name
from security.services.scan import scan_items

router = Router(tags=["security"], auth=django_auth)


@router.post("/scan", response=ScanResponse)
def scan(request: HttpRequest, payload: ScanRequest) -> dict[str, object]:
    if not request.user.is_staff:
        raise HttpError(403, "Scanning is for staff users.")
    policy: CompiledPolicy = default_policy()
    if payload.policy:
        try:
            policy = policy_by_name(payload.policy)
        except Policy.DoesNotExist as exc:
            raise HttpError(404, f"No policy named {payload.policy!r}.") from exc
    items = [item.model_dump(exclude_none=True) for item in payload.items]
    return {"policy": policy.name, "results": list(scan_items(items, policy))}
