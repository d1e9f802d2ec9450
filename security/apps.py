from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "security"

    def ready(self) -> None:
        from security.anomaly.snapshot import connect_signals

        connect_signals()
