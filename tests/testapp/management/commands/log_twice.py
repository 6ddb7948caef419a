import logging
from typing import Any

from django.core.management.base import BaseCommand

from errors.context import get_correlation_id

log = logging.getLogger("tests.command")


class Command(BaseCommand):
    help = "Log two lines and print the correlation id they were logged with."

    def handle(self, *args: Any, **options: Any) -> None:
        log.info("first line")
        log.info("second line")
        self.stdout.write(str(get_correlation_id()))
