from __future__ import annotations

from typing import ClassVar

from django.db import models


class Product(models.Model):
    """A product; only the database knows that a price cannot be negative."""

    name = models.CharField(max_length=100)
    price = models.IntegerField(help_text="In cents.")
    description = models.TextField()

    # Declared because the repository's mypy run does not know this project's apps.
    objects: ClassVar[models.Manager[Product]] = models.Manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price__gte=0), name="shop_product_price_non_negative"
            )
        ]

    def __str__(self) -> str:
        return self.name
