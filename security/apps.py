from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "security"
    # Alert deliveries in flight (kept referenced until done).
    background_tasks: set[object]

    def ready(self) -> None:
        self.background_tasks = set()
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from proxy.invalidation import register_config_model
        from security.models import Policy, PolicyRule
        from security.services.audit_hooks import on_login, on_login_failed

        register_config_model(Policy)
        register_config_model(PolicyRule)
        user_logged_in.connect(on_login, dispatch_uid="security-audit-login")
        user_login_failed.connect(on_login_failed, dispatch_uid="security-audit-login-failed")
        from security.anomaly.snapshot import connect_signals

        connect_signals()
