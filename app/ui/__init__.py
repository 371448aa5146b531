"""Streamlit pages: short scripts that call app.services and render what it returns."""
