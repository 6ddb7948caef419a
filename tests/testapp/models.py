"""Test-only models for the database rows of the error table."""

from django.db import models


class Parent(models.Model):
    name = models.CharField(max_length=50, unique=True)


class Child(models.Model):
    parent = models.ForeignKey(Parent, on_delete=models.CASCADE)


class Measurement(models.Model):
    """A row with one of each rule the database enforces on the client's data.

    `label` is NOT NULL and short, `quantity` an integer that must not be negative (a check
    constraint) and `extra` JSON, whose strings PostgreSQL keeps as text.
    """

    label = models.CharField(max_length=8)
    quantity = models.IntegerField()
    extra = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gte=0), name="testapp_measurement_quantity_gte_0"
            ),
        ]
