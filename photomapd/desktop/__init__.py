"""Desktop integration: tray icon, login item, per-user service and the daemon thread behind the tray."""
