"""Tag and segment errors (stable codes; zh-CN messages)."""

from backend.errors import error

TagNotFound = error("TAG_NOT_FOUND", 404, "标签不存在")
TagCodeTaken = error("TAG_CODE_TAKEN", 409, "标签代码已存在")
TagNotManual = error("TAG_NOT_MANUAL", 422, "自动标签由系统每晚计算，不能手动添加或移除")
SegmentNotFound = error("SEGMENT_NOT_FOUND", 404, "人群不存在")
SegmentRuleInvalid = error("SEGMENT_RULE_INVALID", 400, "人群规则不正确")
SegmentInUse = error("SEGMENT_IN_USE", 409, "该人群正被未结束的触达或积分活动使用，不能删除")
