import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the first admin account when there is none (ADMIN_USERNAME, ADMIN_PASSWORD)."

    def handle(self, *args: object, **options: object) -> None:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return
        password = settings.ADMIN_PASSWORD or secrets.token_urlsafe(12)
        User.objects.create_superuser(
            username=settings.ADMIN_USERNAME, email=settings.ADMIN_EMAIL or "", password=password
        )
        shown = "(from ADMIN_PASSWORD)" if settings.ADMIN_PASSWORD else password
        self.stdout.write(
            self.style.SUCCESS(
                f"Created the admin account {settings.ADMIN_USERNAME!r} with password {shown}. "
                "It is printed once: note it now."
            )
        )
