"""The DRF API: `/api/products/` on a DefaultRouter."""

from rest_framework import routers, viewsets

from .models import Product
from .serializers import ProductSerializer


class ProductViewSet(viewsets.ModelViewSet):
    queryset = Product.objects.order_by("id")
    serializer_class = ProductSerializer


router = routers.DefaultRouter()
router.register("products", ProductViewSet)
