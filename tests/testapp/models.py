"""Test-only models for the database rows of the error table."""

from django.db import models


class Parent(models.Model):
    name = models.CharField(max_length=50, unique=True)


class Child(models.Model):
    parent = models.ForeignKey(Parent, on_delete=models.CASCADE)
