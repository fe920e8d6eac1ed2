"""The HTTP edge: Flask app, admin and ops blueprints, the fast WSGI path, fault middleware, the
dashboard (ui/)."""
