"""Content understanding: product data in, content profile out."""
