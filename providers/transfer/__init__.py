"""Provider configurations as a JSON file without any secret: export, and an
import that validates each provider exactly as its setup screen does
(docs/provider-file.md describes the file)."""
