"""Tax rules per country: one module each (``us``, ``uk``, ``de``, ``au``, ``ca``), see :mod:`.base`."""
