from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from proxy.services.config_file.export import config_export_yaml


class Command(BaseCommand):
    help = "Write the current configuration as YAML for `apply_config` (secrets never in clear)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", help="Write to this file instead of stdout.")

    def handle(self, *args: object, **options: object) -> None:
        text = config_export_yaml()
        output = options.get("output")
        if output:
            path = Path(str(output))
            path.write_text(text, encoding="utf-8")
            path.chmod(0o600)
            self.stdout.write(f"Wrote {path}.")
        else:
            self.stdout.write(text, ending="")
