"""GDPR operations on the lake and the store: erasure, access export, retention, the processing register.

* :mod:`~fediscope.gdpr.erase` — ``erase_account(settings, "user@instance")``;
* :mod:`~fediscope.gdpr.export` — ``export_account(settings, "user@instance")``;
* :mod:`~fediscope.gdpr.retention` — ``apply_retention(settings, dry_run=False)`` (called by the maintenance DAG);
* :mod:`~fediscope.gdpr.register` — ``build_register(settings)`` (Markdown);
* :mod:`~fediscope.gdpr.opt_outs` — opt-outs honoured backwards: landing notes the opted-out accounts it meets,
  the next curation erases what was landed of them before (``apply_opt_outs(lake, uncurated)``);
* :mod:`~fediscope.gdpr.suppression` — ``load_suppressed(lake)`` / ``add_suppressed(lake, key)``, read by the
  collector so erased accounts are not collected again.

Modules are imported on use (the erasure and export import pyarrow).
"""
