"""Analyst outputs: fan charts, scenario comparison figures and the Excel workbook."""
