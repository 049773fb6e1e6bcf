"""The core layer: ids, hashing, validation, entities, errors, settings. No I/O here."""
