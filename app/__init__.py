"""lexdora: liability buckets for commercial contracts."""
