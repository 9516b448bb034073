"""Reports of a `tracehound.doctor.Report`: terminal (rich), JSON, SARIF 2.1.0 and HTML."""
