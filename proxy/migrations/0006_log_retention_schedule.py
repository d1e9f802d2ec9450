"""The daily retention job, declared here so that every `migrate` creates or updates it."""

from django.db import migrations

NAME = "proxy: prune request logs by retention"
TASK = "proxy.tasks.prune_logs_by_retention"


def declare_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={"func": TASK, "schedule_type": "D", "repeats": -1},
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("proxy", "0005_namespace_log_retention"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(declare_schedule, remove_schedule)]
