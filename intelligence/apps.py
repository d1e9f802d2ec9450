from django.apps import AppConfig
from django.db.models.signals import post_migrate


class IntelligenceConfig(AppConfig):
    name = "intelligence"
    verbose_name = "Intelligence: patterns, feedback, semantic cache"

    def ready(self) -> None:
        from intelligence.models import SemanticCacheSetting
        from intelligence.tasks import ensure_schedules
        from proxy.invalidation import register_config_model

        register_config_model(SemanticCacheSetting)
        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="intelligence-schedules")
