from django.core.management.base import BaseCommand, CommandParser

from proxy.services.keys import api_key_create, namespace_get_or_create


class Command(BaseCommand):
    help = "Create a virtual API key (and its namespace when missing). The key is the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--namespace", required=True)
        parser.add_argument("--name", required=True, help="A label for the key.")
        parser.add_argument(
            "--allow-model", action="append", default=[], help="Restrict to this model (repeat)."
        )

    def handle(self, *args: object, **options: object) -> None:
        namespace = namespace_get_or_create(name=str(options["namespace"]))
        issued = api_key_create(
            namespace=namespace,
            name=str(options["name"]),
            allowed_models=list(options["allow_model"]),  # type: ignore[call-overload]
        )
        self.stdout.write(
            f"Created key {issued.key.name!r} in namespace {namespace.name!r} "
            f"(id {issued.key.id}). It is shown once; store it now:"
        )
        self.stdout.write(issued.secret)
