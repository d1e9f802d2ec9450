from django.core.management.base import BaseCommand, CommandError, CommandParser

from proxy.services.config_file.apply import config_apply
from proxy.services.config_file.loading import ConfigFileError, read


class Command(BaseCommand):
    help = (
        "Create or update providers, namespaces, keys and routes from a YAML file "
        "(docs/config-file.md). All or nothing; running it twice changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The YAML config file.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and report, then roll everything back."
        )

    def handle(self, *args: object, **options: object) -> None:
        try:
            loaded = read(str(options["file"]))
            summary = config_apply(loaded, dry_run=bool(options["dry_run"]))
        except ConfigFileError as error:
            raise CommandError(
                "The config file was not applied; nothing changed:\n  "
                + "\n  ".join(error.problems)
            ) from error
        for line in summary.changes:
            self.stdout.write(line)
        for line in summary.lines():
            self.stdout.write(line)
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was written.")
            return
        if not summary.changed:
            self.stdout.write("Nothing to change.")
        for label, secret in summary.new_keys:
            self.stdout.write(f"New key {label}; it is shown once, store it now:")
            self.stdout.write(secret)
