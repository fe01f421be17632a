"""Imports every model so ``Base.metadata`` knows the whole schema (Alembic, tests)."""

from tamio.accounts.models import Account, ApiToken, Member, Role, SafetyMode, UserConfiguration
from tamio.audit.models import AuditHead, AuditLog
from tamio.currency.models import ExchangeRate
from tamio.data.models import CashAccount, Client, ExpenseBucket
from tamio.db import Base
from tamio.detection.models import DetectionAlert, DetectionRule
from tamio.events.models import CashEvent
from tamio.execution.models import ActionApproval, ExecutionAutomationRule, ExecutionRecord
from tamio.forecast.models import ForecastSnapshot
from tamio.integrations.models import IntegrationConnection, IntegrationMapping, XeroConnection, XeroSyncLog
from tamio.obligations.models import ObligationAgreement, ObligationSchedule, PaymentEvent
from tamio.outbox.models import OutboxMessage
from tamio.pipeline import PipelineRun
from tamio.preparation.models import ActionOption, LinkedAction, PreparedAction
from tamio.refresh.models import RefreshRequest
from tamio.scenarios.models import SavedScenario
from tamio.scheduler.models import SchedulerClaim, SlackEventReceipt

__all__ = [
    "Account", "ActionApproval", "ActionOption", "ApiToken", "AuditHead", "AuditLog", "Base", "CashAccount", "CashEvent",
    "Client", "DetectionAlert", "DetectionRule", "ExchangeRate", "ExecutionAutomationRule", "ExecutionRecord",
    "ExpenseBucket", "ForecastSnapshot", "IntegrationConnection", "IntegrationMapping", "LinkedAction", "Member",
    "ObligationAgreement", "ObligationSchedule", "OutboxMessage", "PaymentEvent", "PipelineRun", "PreparedAction", "RefreshRequest",
    "Role", "SafetyMode", "SavedScenario",
    "SchedulerClaim", "SlackEventReceipt", "UserConfiguration", "XeroConnection", "XeroSyncLog",
]
