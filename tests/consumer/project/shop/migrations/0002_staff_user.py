"""A staff user without any permission (and no superuser): the admin answers them with 403."""

from django.contrib.auth.hashers import make_password
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

# tests/test_consumer.py logs in with these.
USERNAME = "staff"
PASSWORD = "staff-password-not-secret"


def create_staff_user(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    user_model = apps.get_model("auth", "User")
    user_model.objects.create(
        username=USERNAME, is_staff=True, is_superuser=False, password=make_password(PASSWORD)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_staff_user, migrations.RunPython.noop)]
