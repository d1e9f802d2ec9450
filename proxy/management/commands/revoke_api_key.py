from django.core.management.base import BaseCommand, CommandError, CommandParser

from proxy.models import ApiKey
from proxy.services.keys import api_key_revoke


class Command(BaseCommand):
    help = "Revoke a virtual API key, given the key itself, its prefix or its id."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key", help="The key (lp-…), its 12-character prefix, or its id.")

    def handle(self, *args: object, **options: object) -> None:
        given = str(options["key"])
        if given.isdigit():
            matches = ApiKey.objects.filter(pk=int(given))
        elif len(given) > 12:
            matches = ApiKey.objects.filter(key_hash=ApiKey.hash_secret(given))
        else:
            matches = ApiKey.objects.filter(prefix=given)
        keys = list(matches)
        if len(keys) != 1:
            raise CommandError(f"{len(keys)} keys match {given[:12]!r}; give exactly one.")
        api_key_revoke(key=keys[0])
        self.stdout.write(f"Revoked key {keys[0]}.")
