"""xrm-employees: employee relationship management as an xRM plugin (a worked example).

The plugin itself is :mod:`xrm_employees.plugin`, registered on the ``xrm.plugins``
entry-point group as ``employees``. Like every plugin, it imports only from ``xrm_core``.
"""
