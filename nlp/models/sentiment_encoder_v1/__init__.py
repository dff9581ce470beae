"""The packaged encoder sentiment head (head.npz + meta.json); rebuilt by nlp.build_default."""
