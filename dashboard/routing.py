from __future__ import annotations

from django.urls import path

from dashboard.consumers import EventsConsumer

websocket_urlpatterns = [path("dashboard/ws/events/", EventsConsumer.as_asgi())]
