"""An import (one uploaded file) and its rows, each with its normalised data, its problems and its outcome."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

# validated (the dry run) → running → completed | failed (resumable) → undoing → undone; a dry run that never
# ran is discarded when the same file is uploaded again
IMPORT_STATUSES = ("validated", "running", "completed", "failed", "undoing", "undone", "discarded")
# valid | invalid (never written) → created | joined | failed; created and joined → undone
ROW_STATUSES = ("valid", "invalid", "created", "joined", "failed", "undone")


class MemberImport(Model):
    id = fields.IntField(primary_key=True)
    filename = fields.CharField(max_length=200)
    format = fields.CharField(max_length=8)  # csv | xlsx | jsonl
    encoding = fields.CharField(max_length=12, null=True)  # csv: utf-8 | gb18030
    sha256 = fields.CharField(max_length=64, db_index=True)
    status = fields.CharField(max_length=12, default="validated")
    channel = fields.CharField(max_length=16)  # the members' registration channel
    skip_invalid = fields.BooleanField(default=False)
    rows_total = fields.IntField(default=0)
    rows_valid = fields.IntField(default=0)
    rows_invalid = fields.IntField(default=0)
    totals = fields.JSONField(default=dict)  # what the run would create (the dry run's answer)
    counts = fields.JSONField(default=dict)  # what the run did so far
    cursor = fields.IntField(default=0)  # the last row number written
    error = fields.CharField(max_length=300, null=True)
    created_by = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField()
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    undone_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "member_imports"


class MemberImportRow(Model):
    id = fields.BigIntField(primary_key=True)
    import_id = fields.IntField()
    row_no = fields.IntField()  # as a spreadsheet shows it: the header is row 1
    status = fields.CharField(max_length=8)
    action = fields.CharField(max_length=8, null=True)  # create | join, as the dry run found it
    phone_index = fields.CharField(max_length=64, null=True)  # the phone's blind index
    data_enc = fields.TextField(null=True)  # the normalised row, encrypted with the PII key
    errors = fields.JSONField(default=list)  # [{column, reason}], no values
    member_id = fields.BigIntField(null=True, db_index=True)
    before_enc = fields.TextField(null=True)  # a joined member's profile before the import (for undo)
    outcome = fields.CharField(max_length=300, null=True)  # why a row failed at run time
    updated_at = fields.DatetimeField()

    class Meta:
        table = "member_import_rows"
        unique_together = (("import_id", "row_no"),)
