"""One blueprint per area of the admin site; `BLUEPRINTS` is what the app factory registers."""

from __future__ import annotations

from admin_web.views import (
                             agents,
                             apps,
                             catalog,
                             dashboard,
                             dlp,
                             exports,
                             logs,
                             me,
                             orgs,
                             reports,
                             router,
                             settings,
                             usage,
                             users,
)

BLUEPRINTS = (dashboard.bp, me.bp, users.bp, orgs.bp, apps.bp, router.bp, agents.bp, catalog.bp,
              logs.bp, usage.bp, reports.bp, dlp.bp, settings.bp, exports.bp)
