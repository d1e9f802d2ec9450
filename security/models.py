"""Security models. The anomaly detection models live in `security.anomaly.models`."""

from security.anomaly.models import *  # noqa: F403
