"""Import errors (stable codes; zh-CN messages)."""

from backend.errors import error

ImportNotFound = error("IMPORT_NOT_FOUND", 404, "导入记录不存在")
ImportFileInvalid = error("IMPORT_FILE_INVALID", 422, "导入文件无法读取")
ImportAlreadyDone = error("IMPORT_ALREADY_IMPORTED", 409, "同一文件已经导入过：如需重新导入，请先撤销上次导入")
ImportHasErrors = error("IMPORT_HAS_ERRORS", 409, "文件中有校验未通过的行：请修正后重新上传，或选择跳过错误行")
ImportState = error("IMPORT_STATE", 409, "导入当前的状态不允许此操作")
ImportMembersChanged = error("IMPORT_MEMBERS_CHANGED", 409, "导入后部分会员已有新的变动，无法整体撤销")
