"""The second metadata backend: a team server (``modelyard server``) over HTTP.

``HttpStore`` answers what ``SqlStore`` answers, ``HttpRegistryStore`` what ``RegistryStore``
answers and ``HttpBlobStore`` what the content-addressed artifact store answers, each through
the server's native REST API (``/api/v1``), whose bodies are the ``core.wire`` models."""

from modelyard.store._remote._blobs import HttpBlobStore
from modelyard.store._remote._pipelines import HttpPipelineStore
from modelyard.store._remote._registry import HttpRegistryStore
from modelyard.store._remote._tracking import HttpStore
from modelyard.store._remote._transport import Transport
from modelyard.store._remote._webhooks import HttpWebhookStore

__all__ = ["HttpBlobStore", "HttpPipelineStore", "HttpRegistryStore", "HttpStore", "HttpWebhookStore", "Transport"]
