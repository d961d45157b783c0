"""Moving a live cluster between upstream's Go v1 controller and this one (docs/migration.md)."""
