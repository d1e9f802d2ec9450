"""Security admin. The anomaly detection admin lives in `security.anomaly.admin`."""

import security.anomaly.admin  # noqa: F401
