from django.core.management.base import BaseCommand

from proxy.services.providers import providers_sync_from_env


class Command(BaseCommand):
    help = "Create or update providers from OPENAI_*, OPENROUTER_* and ANTHROPIC_* variables."

    def handle(self, *args: object, **options: object) -> None:
        for provider in providers_sync_from_env():
            self.stdout.write(f"Provider {provider.name}: {provider.base_url}")
