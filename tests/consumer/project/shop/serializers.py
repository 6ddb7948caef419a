from rest_framework import serializers

from .models import Product


class ProductSerializer(serializers.ModelSerializer):
    """Leaves the price's CheckConstraint and the description's NOT NULL to the database.

    DRF does not turn check constraints into validators, and `description` accepts null here
    although the column does not: data can pass this serializer and still be refused on INSERT.
    """

    description = serializers.CharField(allow_null=True, required=False, default=None)

    class Meta:
        model = Product
        fields = ["id", "name", "price", "description"]
