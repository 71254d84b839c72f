"""The process state every request handler shares: clients, settings, the requestheader config.

One `ApiState` is built by the composition root (`main.run`) or a test and stored on the FastAPI
app. Its `auth` field is replaced (never mutated) when the ConfigMap changes, so a request sees one
consistent configuration.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from virt_client.clock import Clock, RealClock
from virt_client.errors import ApiError, NotFound, TransportError
from virt_client.kube_api import KubeApi
from virt_client.resources import CONFIGMAPS, ResourceRef

from .admission.config import AdmissionConfig
from .authn import CONFIGMAP_NAME, CONFIGMAP_NAMESPACE, RequestHeaderConfig, UserInfo
from .authz import decision, subject_access_review
from .errors import InternalError, NotFoundError
from .handler import HandlerConnector
from .review_cache import ReviewCache, review_key
from .settings import Settings

SUBJECT_ACCESS_REVIEWS = ResourceRef("authorization.k8s.io", "v1", "subjectaccessreviews", False,
                                     "SubjectAccessReview")

#: Reads the API server's `/version` (a non-resource path, so not a `KubeApi` verb); `/healthz` calls it.
VersionProbe = Callable[[], Awaitable[object]]


class ApiState:
    """Shared, long-lived dependencies of the app."""

    def __init__(self, *, kube: KubeApi, handlers: HandlerConnector, settings: Settings,
                 server_version: VersionProbe, auth: RequestHeaderConfig | None = None,
                 review_kube: KubeApi | None = None, clock: Clock | None = None) -> None:
        self.kube = kube
        self.server_version = server_version
        # SubjectAccessReviews use their own client and rate limit, as upstream's webhook client.
        self.review_kube = review_kube or kube
        self.reviews = ReviewCache(clock=clock or RealClock(), ttl=settings.review_cache_ttl)
        self.handlers = handlers
        self.settings = settings
        self.auth = auth
        self.ready = True
        self.admission = AdmissionConfig(kubevirt_users=frozenset(settings.kubevirt_users),
                                         default_network_interface=settings.default_network_interface)

    async def refresh_auth(self) -> None:
        """Re-read the `extension-apiserver-authentication` ConfigMap."""
        cm = await self.kube.get(CONFIGMAPS, CONFIGMAP_NAME, CONFIGMAP_NAMESPACE)
        config = RequestHeaderConfig.from_configmap(cm)
        if config != self.auth:
            self.auth = config

    def client_ca(self) -> str | None:
        return self.auth.client_ca_pem if self.auth else None

    async def authorize(self, user: UserInfo, attributes: Mapping[str, str]) -> tuple[bool, str]:
        """Ask the API server with a SubjectAccessReview (or reuse a recent answer); 500 when it cannot answer."""
        key = review_key(user, attributes)
        cached = self.reviews.get(key)
        if cached is not None:
            return cached
        try:
            review = await self.review_kube.create(SUBJECT_ACCESS_REVIEWS, subject_access_review(user, attributes))
        except (ApiError, TransportError) as e:
            raise InternalError(f"unable to authorize the request: {e}") from None
        allowed, reason = decision(review)
        self.reviews.put(key, allowed, reason)
        return allowed, reason

    async def get_object(self, ref: ResourceRef, namespace: str, name: str, kind: str) -> dict[str, object]:
        """GET an object; 404 with upstream's wording, 500 on other failures."""
        try:
            return await self.kube.get(ref, name, namespace)
        except NotFound:
            raise NotFoundError(kind, name) from None
        except (ApiError, TransportError) as e:
            raise InternalError(str(e), kind, name) from None

    async def find_object(self, ref: ResourceRef, namespace: str, name: str, kind: str) -> dict[str, object] | None:
        """GET an object that may be absent."""
        try:
            return await self.get_object(ref, namespace, name, kind)
        except NotFoundError:
            return None
