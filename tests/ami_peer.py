"""Our AMI peer for tests: Asterisk 22's side of the manager protocol, from captured bytes.

Every frame below marked *captured* is copied byte for byte from the lab transcripts
(shared/reference/asterisk/ami_queue.txt and ami_originate.txt, Asterisk 22.10.1, no
`timestampevents`); the peer only rewrites the value of an `ActionID:` header so replies match
the client's ids. A few replies the lab did not capture (Setvar, Getvar, Redirect,
CoreShowChannels, MixMonitor, unknown action) are *composed*: built in the same framing from
captured header blocks, following what Asterisk 22's manager.c writes for them; they are
marked as such.

`AmiPeer` is a Twisted protocol (the server side) that answers actions; `PeerEndpoint` lets a
ClientService connect to fresh peers through `twisted.test.iosim`, with no socket; helpers split
streams at every byte, close mid-frame and make garbage.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionDone, ConnectionRefusedError
from twisted.internet.interfaces import IProtocolFactory, IStreamClientEndpoint
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.test import iosim
from zope.interface import implementer

# ---------------------------------------------------------------------------------------------
# Captured frames (verbatim): Asterisk → client from ami_queue.txt / ami_originate.txt (the same
# bytes as raw/ami-*.rx.bin), except SENT_*, which are what the lab's client sent (*.tx.bin).
# Every constant in this section was checked to occur byte for byte in the raw captures.
# ---------------------------------------------------------------------------------------------

BANNER = b'Asterisk Call Manager/11.0.0\r\n'
LOGIN_OK = b'Response: Success\r\nActionID: login-1\r\nMessage: Authentication accepted\r\n\r\n'
FULLY_BOOTED = b'Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 209\r\nLastReload: 209\r\nStatus: Fully Booted\r\n\r\n'
SUCCESSFUL_AUTH = b'Event: SuccessfulAuth\r\nPrivilege: security,all\r\nSystemName: asterisk-lab\r\nEventTV: 2026-11-21T04:23:46.011+0000\r\nSeverity: Informational\r\nService: AMI\r\nEventVersion: 1\r\nAccountID: labuser\r\nSessionID: 0x7f8648008b40\r\nLocalAddress: IPV4/TCP/127.0.0.1/5038\r\nRemoteAddress: IPV4/TCP/127.0.0.1/39834\r\nUsingPassword: 0\r\nSessionTV: 2026-11-21T04:23:46.011+0000\r\n\r\n'
PONG = b'Response: Success\r\nActionID: ping-1\r\nPing: Pong\r\nTimestamp: 1795235026.011298\r\n\r\n'
GOODBYE = b'Response: Goodbye\r\nActionID: logoff-1\r\nMessage: Thanks for all the fish.\r\n\r\n'
PERMISSION_DENIED = b'Response: Error\r\nActionID: ping-before-login\r\nMessage: Permission denied\r\n\r\n'
#: CoreShowChannels by a user with write=call,agent,originate (ami_channels.txt, user labcall).
CORESHOW_DENIED = b'Response: Error\r\nActionID: coreshow-1\r\nMessage: Permission denied\r\n\r\n'
#: manager.conf's classes, for `write = all`.
ALL_CLASSES = frozenset({"system", "call", "log", "verbose", "command", "agent", "user", "config", "dtmf", "reporting", "cdr", "dialplan", "originate", "agi", "cc", "aoc", "test", "security", "message"})
#: The write classes Asterisk 22 registers each action with (manager.c, app_queue.c): a user
#: whose `write` shares none of them gets PERMISSION_DENIED. Asterisk's facts, kept here
#: apart from hotline.ami.permissions (what we think we need), so a wrong table there fails.
ACTION_WRITE_CLASSES: dict[str, frozenset[str]] = {
    "CoreShowChannels": frozenset({"system", "reporting"}),
    "Status": frozenset({"system", "call", "reporting"}),
    "Originate": frozenset({"originate"}),
    "QueueAdd": frozenset({"agent"}),
    "QueueRemove": frozenset({"agent"}),
    "QueuePause": frozenset({"agent"}),
    "QueuePenalty": frozenset({"agent"}),
    "Redirect": frozenset({"call"}),
    "Hangup": frozenset({"system", "call"}),
    "Setvar": frozenset({"call"}),
    "Getvar": frozenset({"call", "reporting"}),
}
LOGIN_FAILED = b'Response: Error\r\nActionID: bad-login-1\r\nMessage: Authentication failed\r\n\r\n'
SENT_LOGIN = b'Action: Login\r\nUsername: labuser\r\nSecret: labsecret\r\nActionID: login-1\r\n\r\n'
SENT_QUEUE_ADD = b'Action: QueueAdd\r\nQueue: hotline-general\r\nInterface: Local/agent2@agents/n\r\nMemberName: Agent Two\r\nPenalty: 1\r\nPaused: false\r\nStateInterface: Local/agent2@agents\r\nActionID: qadd-1\r\n\r\n'
SENT_QUEUE_PAUSE = b'Action: QueuePause\r\nQueue: hotline-general\r\nInterface: Local/agent1@agents/n\r\nPaused: true\r\nReason: lunch\r\nActionID: qpause-1\r\n\r\n'
SENT_QUEUE_UNPAUSE = b'Action: QueuePause\r\nQueue: hotline-general\r\nInterface: Local/agent1@agents/n\r\nPaused: false\r\nActionID: qunpause-1\r\n\r\n'
SENT_QUEUE_STATUS = b'Action: QueueStatus\r\nQueue: hotline-general\r\nActionID: qstatus-1\r\n\r\n'
SENT_ORIGINATE = b'Action: Originate\r\nChannel: Local/5550001@survey-phone\r\nContext: survey\r\nExten: s\r\nPriority: 1\r\nCallerID: "Hotline Survey" <12319>\r\nTimeout: 15000\r\nVariable: SURVEY_ID=42\r\nVariable: CAMPAIGN=satisfaction\r\nAsync: true\r\nChannelId: survey-42-a\r\nOtherChannelId: survey-42-b\r\nActionID: orig-ok\r\n\r\n'
SENT_HANGUP = b'Action: Hangup\r\nChannel: Local/noanswer@survey-phone-00000013;1\r\nCause: 16\r\nActionID: hangup-1\r\n\r\n'
#: QueueStatus before any call: one static member, nobody waiting (ActionID qstatus-1).
QUEUE_STATUS_IDLE = (
    b'Response: Success\r\nActionID: qstatus-1\r\nEventList: start\r\nMessage: Queue status will follow\r\n\r\n',
    b'Event: QueueParams\r\nQueue: hotline-general\r\nMax: 0\r\nStrategy: ringall\r\nCalls: 0\r\nHoldtime: 0\r\nTalkTime: 0\r\nCompleted: 0\r\nAbandoned: 0\r\nServiceLevel: 0\r\nServicelevelPerf: 0.0\r\nServicelevelPerf2: 0.0\r\nWeight: 0\r\nActionID: qstatus-1\r\n\r\n',
    b'Event: QueueMember\r\nQueue: hotline-general\r\nName: Agent One\r\nLocation: Local/agent1@agents/n\r\nStateInterface: Local/agent1@agents/n\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\nLastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795234816\r\nInCall: 0\r\nStatus: 1\r\nPaused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\nActionID: qstatus-1\r\n\r\n',
    b'Event: QueueStatusComplete\r\nActionID: qstatus-1\r\nEventList: Complete\r\nListItems: 2\r\n\r\n',
)
#: QueueSummary (qsummary-1).
QUEUE_SUMMARY_IDLE = (
    b'Response: Success\r\nActionID: qsummary-1\r\nEventList: start\r\nMessage: Queue summary will follow\r\n\r\n',
    b'Event: QueueSummary\r\nQueue: hotline-general\r\nLoggedIn: 1\r\nAvailable: 1\r\nCallers: 0\r\nHoldTime: 0\r\nTalkTime: 0\r\nLongestHoldTime: 0\r\nActionID: qsummary-1\r\n\r\n',
    b'Event: QueueSummaryComplete\r\nActionID: qsummary-1\r\nEventList: Complete\r\nListItems: 1\r\n\r\n',
)
#: QueueAdd of Agent Two: the response, then the member events.
QUEUE_ADD_OK = (
    b'Response: Success\r\nActionID: qadd-1\r\nMessage: Added interface to queue\r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Queue:hotline-general_pause_Local/agent2@agents/n\r\nState: NOT_INUSE\r\n\r\n',
    b'Event: QueueMemberAdded\r\nPrivilege: agent,all\r\nSystemName: asterisk-lab\r\nQueue: hotline-general\r\nMemberName: Agent Two\r\nInterface: Local/agent2@agents/n\r\nStateInterface: Local/agent2@agents\r\nMembership: dynamic\r\nPenalty: 1\r\nCallsTaken: 0\r\nLastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795235026\r\nInCall: 0\r\nStatus: 1\r\nPaused: 0\r\nPausedReason: \r\nRinginuse: 0\r\nWrapuptime: 0\r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Queue:hotline-general_avail\r\nState: NOT_INUSE\r\n\r\n',
)
QUEUE_ADD_DUPLICATE = b'Response: Error\r\nActionID: qadd-dup\r\nMessage: Unable to add interface: Already there\r\n\r\n'
QUEUE_ADD_NO_SUCH_QUEUE = b'Response: Error\r\nActionID: qadd-badqueue\r\nMessage: Unable to add interface to queue: No such queue\r\n\r\n'
#: QueueRemove of Agent Two.
QUEUE_REMOVE_OK = (
    b'Response: Success\r\nActionID: qremove-1\r\nMessage: Removed interface from queue\r\n\r\n',
    b'Event: QueueMemberRemoved\r\nPrivilege: agent,all\r\nSystemName: asterisk-lab\r\nQueue: hotline-general\r\nMemberName: Agent Two\r\nInterface: Local/agent2@agents/n\r\nStateInterface: Local/agent2@agents\r\nMembership: dynamic\r\nPenalty: 1\r\nCallsTaken: 0\r\nLastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795235026\r\nInCall: 0\r\nStatus: 1\r\nPaused: 0\r\nPausedReason: \r\nRinginuse: 0\r\nWrapuptime: 0\r\n\r\n',
)
QUEUE_REMOVE_NOT_THERE = b'Response: Error\r\nActionID: qremove-bad\r\nMessage: Unable to remove interface: Not there\r\n\r\n'
#: Call 1, every event in order: the caller (…026.17) joins hotline-general, Agent One answers (…026.18), talks 6 s and hangs up.
CALL_ANSWERED = (
    b'Event: Newchannel\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;1\r\nChannelState: 0\r\nChannelStateDesc: Down\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.16\r\nLinkedid: asterisk-lab-1795235026.16\r\n\r\n',
    b'Event: Newchannel\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 4\r\nChannelStateDesc: Ring\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\n\r\n',
    b'Event: Newexten\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;1\r\nChannelState: 0\r\nChannelStateDesc: Down\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.16\r\nLinkedid: asterisk-lab-1795235026.16\r\nExtension: 12340\r\nApplication: AppDial2\r\nAppData: (Outgoing Line)\r\n\r\n',
    b'Event: LocalBridge\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nLocalOneChannel: Local/12340@hotline-00000008;1\r\nLocalOneChannelState: 0\r\nLocalOneChannelStateDesc: Down\r\nLocalOneCallerIDNum: <unknown>\r\nLocalOneCallerIDName: <unknown>\r\nLocalOneConnectedLineNum: <unknown>\r\nLocalOneConnectedLineName: <unknown>\r\nLocalOneLanguage: en\r\nLocalOneAccountCode: \r\nLocalOneContext: hotline\r\nLocalOneExten: 12340\r\nLocalOnePriority: 1\r\nLocalOneUniqueid: asterisk-lab-1795235026.16\r\nLocalOneLinkedid: asterisk-lab-1795235026.16\r\nLocalTwoChannel: Local/12340@hotline-00000008;2\r\nLocalTwoChannelState: 4\r\nLocalTwoChannelStateDesc: Ring\r\nLocalTwoCallerIDNum: <unknown>\r\nLocalTwoCallerIDName: <unknown>\r\nLocalTwoConnectedLineNum: <unknown>\r\nLocalTwoConnectedLineName: <unknown>\r\nLocalTwoLanguage: en\r\nLocalTwoAccountCode: \r\nLocalTwoContext: hotline\r\nLocalTwoExten: 12340\r\nLocalTwoPriority: 1\r\nLocalTwoUniqueid: asterisk-lab-1795235026.17\r\nLocalTwoLinkedid: asterisk-lab-1795235026.16\r\nContext: hotline\r\nExten: 12340\r\nLocalOptimization: Yes\r\n\r\n',
    b'Event: Newexten\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 4\r\nChannelStateDesc: Ring\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nExtension: 12340\r\nApplication: NoOp\r\nAppData: hotline queue entry\r\n\r\n',
    b'Event: Newexten\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 4\r\nChannelStateDesc: Ring\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 2\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nExtension: 12340\r\nApplication: Answer\r\nAppData: \r\n\r\n',
    b'Event: Newstate\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 2\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\n\r\n',
    b'Event: DialBegin\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDestChannel: Local/12340@hotline-00000008;1\r\nDestChannelState: 0\r\nDestChannelStateDesc: Down\r\nDestCallerIDNum: <unknown>\r\nDestCallerIDName: <unknown>\r\nDestConnectedLineNum: <unknown>\r\nDestConnectedLineName: <unknown>\r\nDestLanguage: en\r\nDestAccountCode: \r\nDestContext: hotline\r\nDestExten: 12340\r\nDestPriority: 1\r\nDestUniqueid: asterisk-lab-1795235026.16\r\nDestLinkedid: asterisk-lab-1795235026.16\r\nDialString: 12340@hotline\r\n\r\n',
    b'Event: Newstate\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.16\r\nLinkedid: asterisk-lab-1795235026.16\r\n\r\n',
    b'Event: DialEnd\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDestChannel: Local/12340@hotline-00000008;1\r\nDestChannelState: 6\r\nDestChannelStateDesc: Up\r\nDestCallerIDNum: <unknown>\r\nDestCallerIDName: <unknown>\r\nDestConnectedLineNum: <unknown>\r\nDestConnectedLineName: <unknown>\r\nDestLanguage: en\r\nDestAccountCode: \r\nDestContext: hotline\r\nDestExten: 12340\r\nDestPriority: 1\r\nDestUniqueid: asterisk-lab-1795235026.16\r\nDestLinkedid: asterisk-lab-1795235026.16\r\nDialStatus: ANSWER\r\n\r\n',
    b'Event: Newexten\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: caller\r\nExten: queue\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.16\r\nLinkedid: asterisk-lab-1795235026.16\r\nExtension: queue\r\nApplication: Wait\r\nAppData: 30\r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Local/12340@hotline\r\nState: INUSE\r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Local/12340@hotline\r\nState: INUSE\r\n\r\n',
    b'Event: Newexten\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 3\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nExtension: 12340\r\nApplication: Set\r\nAppData: CDR(userfield)=queue-test\r\n\r\n',
    b'Event: Newexten\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nExtension: 12340\r\nApplication: Queue\r\nAppData: hotline-general,,,,60\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: ANSWEREDTIME\r\nValue: \r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: ANSWEREDTIME_MS\r\nValue: \r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: DIALEDTIME\r\nValue: \r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: DIALEDTIME_MS\r\nValue: \r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUEWAIT\r\nValue: \r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUEWAIT_MS\r\nValue: \r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Queue:hotline-general\r\nState: RINGING\r\n\r\n',
    b'Event: QueueCallerJoin\r\nPrivilege: agent,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nQueue: hotline-general\r\nPosition: 1\r\nCount: 1\r\n\r\n',
    b'Event: MusicOnHoldStart\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nClass: default\r\n\r\n',
    b'Event: Newchannel\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 0\r\nChannelStateDesc: Down\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: agent1\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\n\r\n',
    b'Event: Newchannel\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;2\r\nChannelState: 4\r\nChannelStateDesc: Ring\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: agent1\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.19\r\nLinkedid: asterisk-lab-1795235026.16\r\n\r\n',
    b'Event: Newexten\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 0\r\nChannelStateDesc: Down\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: agent1\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nExtension: agent1\r\nApplication: AppQueue\r\nAppData: (Outgoing Line)\r\n\r\n',
    b'Event: NewCallerid\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 0\r\nChannelStateDesc: Down\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: agent1\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nCID-CallingPres: 0 (Presentation Allowed, Not Screened)\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 0\r\nChannelStateDesc: Down\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: agent1\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: DIALEDPEERNUMBER\r\nValue: agent1@agents/n\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;2\r\nChannelState: 4\r\nChannelStateDesc: Ring\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: agent1\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.19\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: DIALEDPEERNUMBER\r\nValue: agent1@agents/n\r\n\r\n',
    b'Event: NewConnectedLine\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;2\r\nChannelState: 4\r\nChannelStateDesc: Ring\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: 12340\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: agent1\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.19\r\nLinkedid: asterisk-lab-1795235026.16\r\n\r\n',
    b'Event: LocalBridge\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nLocalOneChannel: Local/agent1@agents-00000009;1\r\nLocalOneChannelState: 0\r\nLocalOneChannelStateDesc: Down\r\nLocalOneCallerIDNum: 12340\r\nLocalOneCallerIDName: <unknown>\r\nLocalOneConnectedLineNum: <unknown>\r\nLocalOneConnectedLineName: <unknown>\r\nLocalOneLanguage: en\r\nLocalOneAccountCode: \r\nLocalOneContext: agents\r\nLocalOneExten: agent1\r\nLocalOnePriority: 1\r\nLocalOneUniqueid: asterisk-lab-1795235026.18\r\nLocalOneLinkedid: asterisk-lab-1795235026.16\r\nLocalTwoChannel: Local/agent1@agents-00000009;2\r\nLocalTwoChannelState: 4\r\nLocalTwoChannelStateDesc: Ring\r\nLocalTwoCallerIDNum: <unknown>\r\nLocalTwoCallerIDName: <unknown>\r\nLocalTwoConnectedLineNum: 12340\r\nLocalTwoConnectedLineName: <unknown>\r\nLocalTwoLanguage: en\r\nLocalTwoAccountCode: \r\nLocalTwoContext: agents\r\nLocalTwoExten: agent1\r\nLocalTwoPriority: 1\r\nLocalTwoUniqueid: asterisk-lab-1795235026.19\r\nLocalTwoLinkedid: asterisk-lab-1795235026.16\r\nContext: agents\r\nExten: agent1\r\nLocalOptimization: No\r\n\r\n',
    b'Event: AgentCalled\r\nPrivilege: agent,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nDestChannel: Local/agent1@agents-00000009;1\r\nDestChannelState: 0\r\nDestChannelStateDesc: Down\r\nDestCallerIDNum: 12340\r\nDestCallerIDName: <unknown>\r\nDestConnectedLineNum: <unknown>\r\nDestConnectedLineName: <unknown>\r\nDestLanguage: en\r\nDestAccountCode: \r\nDestContext: agents\r\nDestExten: 12340\r\nDestPriority: 1\r\nDestUniqueid: asterisk-lab-1795235026.18\r\nDestLinkedid: asterisk-lab-1795235026.16\r\nQueue: hotline-general\r\nInterface: Local/agent1@agents/n\r\nMemberName: Agent One\r\n\r\n',
    b'Event: DialBegin\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nDestChannel: Local/agent1@agents-00000009;1\r\nDestChannelState: 0\r\nDestChannelStateDesc: Down\r\nDestCallerIDNum: 12340\r\nDestCallerIDName: <unknown>\r\nDestConnectedLineNum: <unknown>\r\nDestConnectedLineName: <unknown>\r\nDestLanguage: en\r\nDestAccountCode: \r\nDestContext: agents\r\nDestExten: agent1\r\nDestPriority: 1\r\nDestUniqueid: asterisk-lab-1795235026.18\r\nDestLinkedid: asterisk-lab-1795235026.16\r\nDialString: Local/agent1@agents/n\r\n\r\n',
    b'Event: Newexten\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;2\r\nChannelState: 4\r\nChannelStateDesc: Ring\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: 12340\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: agent1\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.19\r\nLinkedid: asterisk-lab-1795235026.16\r\nExtension: agent1\r\nApplication: Answer\r\nAppData: \r\n\r\n',
    b'Event: Newstate\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: 12340\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: agent1\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.19\r\nLinkedid: asterisk-lab-1795235026.16\r\n\r\n',
    b'Event: Newstate\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\n\r\n',
    b'Event: Newexten\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nExtension: 12340\r\nApplication: AppQueue\r\nAppData: (Outgoing Line)\r\n\r\n',
    b'Event: DialEnd\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nDestChannel: Local/agent1@agents-00000009;1\r\nDestChannelState: 6\r\nDestChannelStateDesc: Up\r\nDestCallerIDNum: 12340\r\nDestCallerIDName: <unknown>\r\nDestConnectedLineNum: <unknown>\r\nDestConnectedLineName: <unknown>\r\nDestLanguage: en\r\nDestAccountCode: \r\nDestContext: agents\r\nDestExten: 12340\r\nDestPriority: 1\r\nDestUniqueid: asterisk-lab-1795235026.18\r\nDestLinkedid: asterisk-lab-1795235026.16\r\nDialStatus: ANSWER\r\n\r\n',
    b'Event: MusicOnHoldStop\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: MEMBERINTERFACE\r\nValue: Local/agent1@agents/n\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: MEMBERNAME\r\nValue: Agent One\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: MEMBERCALLS\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: MEMBERLASTCALL\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: MEMBERPENALTY\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: MEMBERDYNAMIC\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: MEMBERREALTIME\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: MEMBERINTERFACE\r\nValue: Local/agent1@agents/n\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: MEMBERNAME\r\nValue: Agent One\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: MEMBERCALLS\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: MEMBERLASTCALL\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: MEMBERPENALTY\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: MEMBERDYNAMIC\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: MEMBERREALTIME\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QEHOLDTIME\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QEORIGINALPOS\r\nValue: 1\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QEHOLDTIME\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QEORIGINALPOS\r\nValue: 1\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUENAME\r\nValue: hotline-general\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUEMAX\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUESTRATEGY\r\nValue: ringall\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUECALLS\r\nValue: 1\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUEHOLDTIME\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUETALKTIME\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUECOMPLETED\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUEABANDONED\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUESRVLEVEL\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUESRVLEVELPERF\r\nValue: 0.0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUENAME\r\nValue: hotline-general\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUEMAX\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUESTRATEGY\r\nValue: ringall\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUECALLS\r\nValue: 1\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUEHOLDTIME\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUETALKTIME\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUECOMPLETED\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUEABANDONED\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUESRVLEVEL\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUESRVLEVELPERF\r\nValue: 0.0\r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Queue:hotline-general\r\nState: NOT_INUSE\r\n\r\n',
    b'Event: QueueCallerLeave\r\nPrivilege: agent,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nQueue: hotline-general\r\nPosition: 1\r\nCount: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUEPOSITION\r\nValue: 1\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUEWAIT\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUEWAIT_MS\r\nValue: 0\r\n\r\n',
    b'Event: AgentConnect\r\nPrivilege: agent,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nDestChannel: Local/agent1@agents-00000009;1\r\nDestChannelState: 6\r\nDestChannelStateDesc: Up\r\nDestCallerIDNum: 12340\r\nDestCallerIDName: <unknown>\r\nDestConnectedLineNum: <unknown>\r\nDestConnectedLineName: <unknown>\r\nDestLanguage: en\r\nDestAccountCode: \r\nDestContext: agents\r\nDestExten: 12340\r\nDestPriority: 1\r\nDestUniqueid: asterisk-lab-1795235026.18\r\nDestLinkedid: asterisk-lab-1795235026.16\r\nQueue: hotline-general\r\nInterface: Local/agent1@agents/n\r\nMemberName: Agent One\r\nHoldTime: 0\r\nRingTime: 0\r\n\r\n',
    b'Event: BridgeCreate\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nBridgeUniqueid: 2ddef1b8-8e27-4bf8-9003-914111c3b40e\r\nBridgeType: basic\r\nBridgeTechnology: simple_bridge\r\nBridgeCreator: <unknown>\r\nBridgeName: <unknown>\r\nBridgeNumChannels: 0\r\nBridgeVideoSourceMode: none\r\n\r\n',
    b'Event: BridgeEnter\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nBridgeUniqueid: 2ddef1b8-8e27-4bf8-9003-914111c3b40e\r\nBridgeType: basic\r\nBridgeTechnology: simple_bridge\r\nBridgeCreator: <unknown>\r\nBridgeName: <unknown>\r\nBridgeNumChannels: 1\r\nBridgeVideoSourceMode: none\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\n\r\n',
    b'Event: BridgeEnter\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nBridgeUniqueid: 2ddef1b8-8e27-4bf8-9003-914111c3b40e\r\nBridgeType: basic\r\nBridgeTechnology: simple_bridge\r\nBridgeCreator: <unknown>\r\nBridgeName: <unknown>\r\nBridgeNumChannels: 2\r\nBridgeVideoSourceMode: none\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: BRIDGEPEER\r\nValue: Local/12340@hotline-00000008;2\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: BRIDGEPEER\r\nValue: Local/agent1@agents-00000009;1\r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Local/agent1@agents\r\nState: INUSE\r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Local/agent1@agents\r\nState: INUSE\r\n\r\n',
    b'Event: QueueMemberStatus\r\nPrivilege: agent,all\r\nSystemName: asterisk-lab\r\nQueue: hotline-general\r\nMemberName: Agent One\r\nInterface: Local/agent1@agents/n\r\nStateInterface: Local/agent1@agents/n\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 0\r\nLastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795234816\r\nInCall: 1\r\nStatus: 2\r\nPaused: 0\r\nPausedReason: \r\nRinginuse: 0\r\nWrapuptime: 0\r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Queue:hotline-general_avail\r\nState: INUSE\r\n\r\n',
    b'Event: Newexten\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: 12340\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: agent1\r\nPriority: 2\r\nUniqueid: asterisk-lab-1795235026.19\r\nLinkedid: asterisk-lab-1795235026.16\r\nExtension: agent1\r\nApplication: Wait\r\nAppData: 5\r\n\r\n',
    b'Event: Newexten\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: 12340\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: agent1\r\nPriority: 3\r\nUniqueid: asterisk-lab-1795235026.19\r\nLinkedid: asterisk-lab-1795235026.16\r\nExtension: agent1\r\nApplication: Hangup\r\nAppData: \r\n\r\n',
    b'Event: SoftHangupRequest\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: 12340\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: agent1\r\nPriority: 3\r\nUniqueid: asterisk-lab-1795235026.19\r\nLinkedid: asterisk-lab-1795235026.16\r\nCause: 16\r\n\r\n',
    b'Event: HangupRequest\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nCause: 16\r\n\r\n',
    b'Event: Hangup\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: 12340\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: agent1\r\nPriority: 3\r\nUniqueid: asterisk-lab-1795235026.19\r\nLinkedid: asterisk-lab-1795235026.16\r\nCause: 16\r\nCause-txt: Normal Clearing\r\n\r\n',
    b'Event: AgentComplete\r\nPrivilege: agent,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nDestChannel: Local/agent1@agents-00000009;1\r\nDestChannelState: 6\r\nDestChannelStateDesc: Up\r\nDestCallerIDNum: 12340\r\nDestCallerIDName: <unknown>\r\nDestConnectedLineNum: <unknown>\r\nDestConnectedLineName: <unknown>\r\nDestLanguage: en\r\nDestAccountCode: \r\nDestContext: agents\r\nDestExten: 12340\r\nDestPriority: 1\r\nDestUniqueid: asterisk-lab-1795235026.18\r\nDestLinkedid: asterisk-lab-1795235026.16\r\nQueue: hotline-general\r\nInterface: Local/agent1@agents/n\r\nMemberName: Agent One\r\nHoldTime: 0\r\nTalkTime: 6\r\nReason: agent\r\n\r\n',
    b'Event: Cdr\r\nPrivilege: cdr,all\r\nSystemName: asterisk-lab\r\nAccountCode: \r\nSource: \r\nDestination: agent1\r\nDestinationContext: agents\r\nCallerID: "" <>\r\nChannel: Local/agent1@agents-00000009;2\r\nDestinationChannel: \r\nLastApplication: Hangup\r\nLastData: \r\nStartTime: 2026-11-21 04:23:46\r\nAnswerTime: 2026-11-21 04:23:46\r\nEndTime: 2026-11-21 04:23:52\r\nDuration: 5\r\nBillableSeconds: 5\r\nDisposition: ANSWERED\r\nAMAFlags: DOCUMENTATION\r\nUniqueID: asterisk-lab-1795235026.19\r\nUserField: \r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: BRIDGEPEER\r\nValue: \r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: BRIDGEPEER\r\nValue: \r\n\r\n',
    b'Event: BridgeLeave\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nBridgeUniqueid: 2ddef1b8-8e27-4bf8-9003-914111c3b40e\r\nBridgeType: basic\r\nBridgeTechnology: simple_bridge\r\nBridgeCreator: <unknown>\r\nBridgeName: <unknown>\r\nBridgeNumChannels: 1\r\nBridgeVideoSourceMode: none\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\n\r\n',
    b'Event: Hangup\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/agent1@agents-00000009;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 12340\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: agents\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.18\r\nLinkedid: asterisk-lab-1795235026.16\r\nCause: 16\r\nCause-txt: Normal Clearing\r\n\r\n',
    b'Event: BridgeLeave\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nBridgeUniqueid: 2ddef1b8-8e27-4bf8-9003-914111c3b40e\r\nBridgeType: basic\r\nBridgeTechnology: simple_bridge\r\nBridgeCreator: <unknown>\r\nBridgeName: <unknown>\r\nBridgeNumChannels: 0\r\nBridgeVideoSourceMode: none\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUENAME\r\nValue: hotline-general\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUEMAX\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUESTRATEGY\r\nValue: ringall\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUECALLS\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUEHOLDTIME\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUETALKTIME\r\nValue: 6\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUECOMPLETED\r\nValue: 1\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUEABANDONED\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUESRVLEVEL\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUESRVLEVELPERF\r\nValue: 100.0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: ANSWEREDTIME\r\nValue: 5\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: ANSWEREDTIME_MS\r\nValue: 5507\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: DIALEDTIME\r\nValue: 6\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: DIALEDTIME_MS\r\nValue: 6009\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUENAME\r\nValue: hotline-general\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUEMAX\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUESTRATEGY\r\nValue: ringall\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUECALLS\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUEHOLDTIME\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUETALKTIME\r\nValue: 6\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUECOMPLETED\r\nValue: 1\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUEABANDONED\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUESRVLEVEL\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nVariable: QUEUESRVLEVELPERF\r\nValue: 100.0\r\n\r\n',
    b'Event: SoftHangupRequest\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nCause: 16\r\n\r\n',
    b'Event: Newexten\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: h\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nExtension: h\r\nApplication: Verbose\r\nAppData: 1,h-exten Local/12340@hotline-00000008;2 AGISTATUS= QUEUESTATUS=\r\n\r\n',
    b'Event: Newexten\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: h\r\nPriority: 2\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nExtension: h\r\nApplication: UserEvent\r\nAppData: LabHangup,Chan: Local/12340@hotline-00000008;2,AGISTATUS: ,QUEUESTATUS: \r\n\r\n',
    b'Event: UserEvent\r\nPrivilege: user,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: h\r\nPriority: 2\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nUserEvent: LabHangup\r\nChan: Local/12340@hotline-00000008;2\r\nAGISTATUS: \r\nQUEUESTATUS: \r\n\r\n',
    b'Event: HangupRequest\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: caller\r\nExten: queue\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.16\r\nLinkedid: asterisk-lab-1795235026.16\r\nCause: 16\r\n\r\n',
    b'Event: Hangup\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: h\r\nPriority: 3\r\nUniqueid: asterisk-lab-1795235026.17\r\nLinkedid: asterisk-lab-1795235026.16\r\nCause: 16\r\nCause-txt: Normal Clearing\r\n\r\n',
    b'Event: BridgeDestroy\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nBridgeUniqueid: 2ddef1b8-8e27-4bf8-9003-914111c3b40e\r\nBridgeType: basic\r\nBridgeTechnology: simple_bridge\r\nBridgeCreator: <unknown>\r\nBridgeName: <unknown>\r\nBridgeNumChannels: 0\r\nBridgeVideoSourceMode: none\r\n\r\n',
    b'Event: Cdr\r\nPrivilege: cdr,all\r\nSystemName: asterisk-lab\r\nAccountCode: \r\nSource: \r\nDestination: 12340\r\nDestinationContext: hotline\r\nCallerID: "" <>\r\nChannel: Local/12340@hotline-00000008;2\r\nDestinationChannel: Local/agent1@agents-00000009;1\r\nLastApplication: Queue\r\nLastData: hotline-general,,,,60\r\nStartTime: 2026-11-21 04:23:46\r\nAnswerTime: 2026-11-21 04:23:46\r\nEndTime: 2026-11-21 04:23:52\r\nDuration: 6\r\nBillableSeconds: 6\r\nDisposition: ANSWERED\r\nAMAFlags: DOCUMENTATION\r\nUniqueID: asterisk-lab-1795235026.17\r\nUserField: queue-test\r\n\r\n',
    b'Event: Cdr\r\nPrivilege: cdr,all\r\nSystemName: asterisk-lab\r\nAccountCode: \r\nSource: \r\nDestination: queue\r\nDestinationContext: caller\r\nCallerID: "" <>\r\nChannel: Local/12340@hotline-00000008;1\r\nDestinationChannel: \r\nLastApplication: Wait\r\nLastData: 30\r\nStartTime: 2026-11-21 04:23:46\r\nAnswerTime: 2026-11-21 04:23:46\r\nEndTime: 2026-11-21 04:23:52\r\nDuration: 6\r\nBillableSeconds: 6\r\nDisposition: ANSWERED\r\nAMAFlags: DOCUMENTATION\r\nUniqueID: asterisk-lab-1795235026.16\r\nUserField: \r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Local/agent1@agents\r\nState: NOT_INUSE\r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Local/agent1@agents\r\nState: NOT_INUSE\r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Local/12340@hotline\r\nState: NOT_INUSE\r\n\r\n',
    b'Event: SoftHangupRequest\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: caller\r\nExten: queue\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.16\r\nLinkedid: asterisk-lab-1795235026.16\r\nCause: 16\r\n\r\n',
    b'Event: Hangup\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-00000008;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: caller\r\nExten: queue\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235026.16\r\nLinkedid: asterisk-lab-1795235026.16\r\nCause: 16\r\nCause-txt: Normal Clearing\r\n\r\n',
    b'Event: QueueMemberStatus\r\nPrivilege: agent,all\r\nSystemName: asterisk-lab\r\nQueue: hotline-general\r\nMemberName: Agent One\r\nInterface: Local/agent1@agents/n\r\nStateInterface: Local/agent1@agents/n\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 1\r\nLastCall: 1795235032\r\nLastPause: 0\r\nLoginTime: 1795234816\r\nInCall: 0\r\nStatus: 1\r\nPaused: 0\r\nPausedReason: \r\nRinginuse: 0\r\nWrapuptime: 0\r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Queue:hotline-general_avail\r\nState: NOT_INUSE\r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Local/12340@hotline\r\nState: NOT_INUSE\r\n\r\n',
)
#: QueuePause of Agent One with Reason: lunch (qpause-1).
QUEUE_PAUSE_OK = (
    b'Response: Success\r\nActionID: qpause-1\r\nMessage: Interface paused successfully\r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Queue:hotline-general_pause_Local/agent1@agents/n\r\nState: INUSE\r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Queue:hotline-general_avail\r\nState: INUSE\r\n\r\n',
    b'Event: QueueMemberPause\r\nPrivilege: agent,all\r\nSystemName: asterisk-lab\r\nQueue: hotline-general\r\nMemberName: Agent One\r\nInterface: Local/agent1@agents/n\r\nStateInterface: Local/agent1@agents/n\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 1\r\nLastCall: 1795235032\r\nLastPause: 1795235035\r\nLoginTime: 1795234816\r\nInCall: 0\r\nStatus: 1\r\nPaused: 1\r\nPausedReason: lunch\r\nRinginuse: 0\r\nWrapuptime: 0\r\n\r\n',
)
#: QueueStatus with Agent One paused for lunch (qstatus-3).
QUEUE_STATUS_PAUSED = (
    b'Response: Success\r\nActionID: qstatus-3\r\nEventList: start\r\nMessage: Queue status will follow\r\n\r\n',
    b'Event: QueueParams\r\nQueue: hotline-general\r\nMax: 0\r\nStrategy: ringall\r\nCalls: 0\r\nHoldtime: 0\r\nTalkTime: 6\r\nCompleted: 1\r\nAbandoned: 0\r\nServiceLevel: 0\r\nServicelevelPerf: 100.0\r\nServicelevelPerf2: 100.0\r\nWeight: 0\r\nActionID: qstatus-3\r\n\r\n',
    b'Event: QueueMember\r\nQueue: hotline-general\r\nName: Agent One\r\nLocation: Local/agent1@agents/n\r\nStateInterface: Local/agent1@agents/n\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 1\r\nLastCall: 1795235032\r\nLastPause: 1795235035\r\nLoginTime: 1795234816\r\nInCall: 0\r\nStatus: 1\r\nPaused: 1\r\nPausedReason: lunch\r\nWrapuptime: 0\r\nActionID: qstatus-3\r\n\r\n',
    b'Event: QueueStatusComplete\r\nActionID: qstatus-3\r\nEventList: Complete\r\nListItems: 2\r\n\r\n',
)
#: Call 2 until it waits: the caller (…035.21) joins; no member is free.
CALL_WAITING = (
    b'Event: Newchannel\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;1\r\nChannelState: 0\r\nChannelStateDesc: Down\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235035.20\r\nLinkedid: asterisk-lab-1795235035.20\r\n\r\n',
    b'Event: Newchannel\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 4\r\nChannelStateDesc: Ring\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\n\r\n',
    b'Event: Newexten\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;1\r\nChannelState: 0\r\nChannelStateDesc: Down\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235035.20\r\nLinkedid: asterisk-lab-1795235035.20\r\nExtension: 12340\r\nApplication: AppDial2\r\nAppData: (Outgoing Line)\r\n\r\n',
    b'Event: LocalBridge\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nLocalOneChannel: Local/12340@hotline-0000000a;1\r\nLocalOneChannelState: 0\r\nLocalOneChannelStateDesc: Down\r\nLocalOneCallerIDNum: <unknown>\r\nLocalOneCallerIDName: <unknown>\r\nLocalOneConnectedLineNum: <unknown>\r\nLocalOneConnectedLineName: <unknown>\r\nLocalOneLanguage: en\r\nLocalOneAccountCode: \r\nLocalOneContext: hotline\r\nLocalOneExten: 12340\r\nLocalOnePriority: 1\r\nLocalOneUniqueid: asterisk-lab-1795235035.20\r\nLocalOneLinkedid: asterisk-lab-1795235035.20\r\nLocalTwoChannel: Local/12340@hotline-0000000a;2\r\nLocalTwoChannelState: 4\r\nLocalTwoChannelStateDesc: Ring\r\nLocalTwoCallerIDNum: <unknown>\r\nLocalTwoCallerIDName: <unknown>\r\nLocalTwoConnectedLineNum: <unknown>\r\nLocalTwoConnectedLineName: <unknown>\r\nLocalTwoLanguage: en\r\nLocalTwoAccountCode: \r\nLocalTwoContext: hotline\r\nLocalTwoExten: 12340\r\nLocalTwoPriority: 1\r\nLocalTwoUniqueid: asterisk-lab-1795235035.21\r\nLocalTwoLinkedid: asterisk-lab-1795235035.20\r\nContext: hotline\r\nExten: 12340\r\nLocalOptimization: Yes\r\n\r\n',
    b'Event: DialBegin\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDestChannel: Local/12340@hotline-0000000a;1\r\nDestChannelState: 0\r\nDestChannelStateDesc: Down\r\nDestCallerIDNum: <unknown>\r\nDestCallerIDName: <unknown>\r\nDestConnectedLineNum: <unknown>\r\nDestConnectedLineName: <unknown>\r\nDestLanguage: en\r\nDestAccountCode: \r\nDestContext: hotline\r\nDestExten: 12340\r\nDestPriority: 1\r\nDestUniqueid: asterisk-lab-1795235035.20\r\nDestLinkedid: asterisk-lab-1795235035.20\r\nDialString: 12340@hotline\r\n\r\n',
    b'Event: Newexten\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 4\r\nChannelStateDesc: Ring\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nExtension: 12340\r\nApplication: NoOp\r\nAppData: hotline queue entry\r\n\r\n',
    b'Event: Newexten\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 4\r\nChannelStateDesc: Ring\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 2\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nExtension: 12340\r\nApplication: Answer\r\nAppData: \r\n\r\n',
    b'Event: Newstate\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 2\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Local/12340@hotline\r\nState: INUSE\r\n\r\n',
    b'Event: Newstate\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235035.20\r\nLinkedid: asterisk-lab-1795235035.20\r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Local/12340@hotline\r\nState: INUSE\r\n\r\n',
    b'Event: DialEnd\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDestChannel: Local/12340@hotline-0000000a;1\r\nDestChannelState: 6\r\nDestChannelStateDesc: Up\r\nDestCallerIDNum: <unknown>\r\nDestCallerIDName: <unknown>\r\nDestConnectedLineNum: <unknown>\r\nDestConnectedLineName: <unknown>\r\nDestLanguage: en\r\nDestAccountCode: \r\nDestContext: hotline\r\nDestExten: 12340\r\nDestPriority: 1\r\nDestUniqueid: asterisk-lab-1795235035.20\r\nDestLinkedid: asterisk-lab-1795235035.20\r\nDialStatus: ANSWER\r\n\r\n',
    b'Event: Newexten\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: caller\r\nExten: abandon\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235035.20\r\nLinkedid: asterisk-lab-1795235035.20\r\nExtension: abandon\r\nApplication: Wait\r\nAppData: 4\r\n\r\n',
    b'Event: Newexten\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 3\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nExtension: 12340\r\nApplication: Set\r\nAppData: CDR(userfield)=queue-test\r\n\r\n',
    b'Event: Newexten\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nExtension: 12340\r\nApplication: Queue\r\nAppData: hotline-general,,,,60\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: ANSWEREDTIME\r\nValue: \r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: ANSWEREDTIME_MS\r\nValue: \r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: DIALEDTIME\r\nValue: \r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: DIALEDTIME_MS\r\nValue: \r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUEWAIT\r\nValue: \r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUEWAIT_MS\r\nValue: \r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Queue:hotline-general\r\nState: RINGING\r\n\r\n',
    b'Event: QueueCallerJoin\r\nPrivilege: agent,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nQueue: hotline-general\r\nPosition: 1\r\nCount: 1\r\n\r\n',
    b'Event: MusicOnHoldStart\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nClass: default\r\n\r\n',
)
#: QueueStatus while call 2 waits: its QueueEntry says Wait: 2 (qstatus-4).
QUEUE_STATUS_WITH_CALLER = (
    b'Response: Success\r\nActionID: qstatus-4\r\nEventList: start\r\nMessage: Queue status will follow\r\n\r\n',
    b'Event: QueueParams\r\nQueue: hotline-general\r\nMax: 0\r\nStrategy: ringall\r\nCalls: 1\r\nHoldtime: 0\r\nTalkTime: 6\r\nCompleted: 1\r\nAbandoned: 0\r\nServiceLevel: 0\r\nServicelevelPerf: 100.0\r\nServicelevelPerf2: 100.0\r\nWeight: 0\r\nActionID: qstatus-4\r\n\r\n',
    b'Event: QueueMember\r\nQueue: hotline-general\r\nName: Agent One\r\nLocation: Local/agent1@agents/n\r\nStateInterface: Local/agent1@agents/n\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 1\r\nLastCall: 1795235032\r\nLastPause: 1795235035\r\nLoginTime: 1795234816\r\nInCall: 0\r\nStatus: 1\r\nPaused: 1\r\nPausedReason: lunch\r\nWrapuptime: 0\r\nActionID: qstatus-4\r\n\r\n',
    b'Event: QueueEntry\r\nQueue: hotline-general\r\nPosition: 1\r\nChannel: Local/12340@hotline-0000000a;2\r\nUniqueid: asterisk-lab-1795235035.21\r\nCallerIDNum: unknown\r\nCallerIDName: unknown\r\nConnectedLineNum: unknown\r\nConnectedLineName: unknown\r\nWait: 2\r\nPriority: 0\r\nActionID: qstatus-4\r\n\r\n',
    b'Event: QueueStatusComplete\r\nActionID: qstatus-4\r\nEventList: Complete\r\nListItems: 3\r\n\r\n',
)
#: QueueSummary while call 2 waits (qsummary-2).
QUEUE_SUMMARY_WITH_CALLER = (
    b'Response: Success\r\nActionID: qsummary-2\r\nEventList: start\r\nMessage: Queue summary will follow\r\n\r\n',
    b'Event: QueueSummary\r\nQueue: hotline-general\r\nLoggedIn: 1\r\nAvailable: 0\r\nCallers: 1\r\nHoldTime: 0\r\nTalkTime: 6\r\nLongestHoldTime: 2\r\nActionID: qsummary-2\r\n\r\n',
    b'Event: QueueSummaryComplete\r\nActionID: qsummary-2\r\nEventList: Complete\r\nListItems: 1\r\n\r\n',
)
#: Call 2 to its end: the caller hangs up after 4 s (QueueCallerAbandon, HoldTime: 4).
CALL_ABANDONED = (
    b'Event: Newexten\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: caller\r\nExten: abandon\r\nPriority: 2\r\nUniqueid: asterisk-lab-1795235035.20\r\nLinkedid: asterisk-lab-1795235035.20\r\nExtension: abandon\r\nApplication: Hangup\r\nAppData: \r\n\r\n',
    b'Event: SoftHangupRequest\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: caller\r\nExten: abandon\r\nPriority: 2\r\nUniqueid: asterisk-lab-1795235035.20\r\nLinkedid: asterisk-lab-1795235035.20\r\nCause: 16\r\n\r\n',
    b'Event: HangupRequest\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nCause: 16\r\n\r\n',
    b'Event: Hangup\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;1\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: caller\r\nExten: abandon\r\nPriority: 2\r\nUniqueid: asterisk-lab-1795235035.20\r\nLinkedid: asterisk-lab-1795235035.20\r\nCause: 16\r\nCause-txt: Normal Clearing\r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Local/12340@hotline\r\nState: NOT_INUSE\r\n\r\n',
    b'Event: Cdr\r\nPrivilege: cdr,all\r\nSystemName: asterisk-lab\r\nAccountCode: \r\nSource: \r\nDestination: abandon\r\nDestinationContext: caller\r\nCallerID: "" <>\r\nChannel: Local/12340@hotline-0000000a;1\r\nDestinationChannel: \r\nLastApplication: Hangup\r\nLastData: \r\nStartTime: 2026-11-21 04:23:55\r\nAnswerTime: 2026-11-21 04:23:55\r\nEndTime: 2026-11-21 04:23:59\r\nDuration: 4\r\nBillableSeconds: 4\r\nDisposition: ANSWERED\r\nAMAFlags: DOCUMENTATION\r\nUniqueID: asterisk-lab-1795235035.20\r\nUserField: \r\n\r\n',
    b'Event: Cdr\r\nPrivilege: cdr,all\r\nSystemName: asterisk-lab\r\nAccountCode: \r\nSource: \r\nDestination: 12340\r\nDestinationContext: hotline\r\nCallerID: "" <>\r\nChannel: Local/12340@hotline-0000000a;2\r\nDestinationChannel: \r\nLastApplication: Queue\r\nLastData: hotline-general,,,,60\r\nStartTime: 2026-11-21 04:23:55\r\nAnswerTime: 2026-11-21 04:23:55\r\nEndTime: 2026-11-21 04:23:59\r\nDuration: 4\r\nBillableSeconds: 4\r\nDisposition: ANSWERED\r\nAMAFlags: DOCUMENTATION\r\nUniqueID: asterisk-lab-1795235035.21\r\nUserField: queue-test\r\n\r\n',
    b'Event: MusicOnHoldStop\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUEWAIT\r\nValue: 4\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUEWAIT_MS\r\nValue: 4000\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: DIALEDTIME\r\nValue: 4\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: DIALEDTIME_MS\r\nValue: 4002\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: ANSWEREDTIME\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: ANSWEREDTIME_MS\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: ABANDONED\r\nValue: TRUE\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUENAME\r\nValue: hotline-general\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUEMAX\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUESTRATEGY\r\nValue: ringall\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUECALLS\r\nValue: 1\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUEHOLDTIME\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUETALKTIME\r\nValue: 6\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUECOMPLETED\r\nValue: 1\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUEABANDONED\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUESRVLEVEL\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUESRVLEVELPERF\r\nValue: 100.0\r\n\r\n',
    b'Event: QueueCallerAbandon\r\nPrivilege: agent,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nQueue: hotline-general\r\nPosition: 1\r\nOriginalPosition: 1\r\nHoldTime: 4\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUENAME\r\nValue: hotline-general\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUEMAX\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUESTRATEGY\r\nValue: ringall\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUECALLS\r\nValue: 1\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUEHOLDTIME\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUETALKTIME\r\nValue: 6\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUECOMPLETED\r\nValue: 1\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUEABANDONED\r\nValue: 1\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUESRVLEVEL\r\nValue: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUESRVLEVELPERF\r\nValue: 100.0\r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Queue:hotline-general\r\nState: NOT_INUSE\r\n\r\n',
    b'Event: QueueCallerLeave\r\nPrivilege: agent,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nQueue: hotline-general\r\nPosition: 1\r\nCount: 0\r\n\r\n',
    b'Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nVariable: QUEUEPOSITION\r\nValue: 1\r\n\r\n',
    b'Event: SoftHangupRequest\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: 12340\r\nPriority: 4\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nCause: 16\r\n\r\n',
    b'Event: Newexten\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: h\r\nPriority: 1\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nExtension: h\r\nApplication: Verbose\r\nAppData: 1,h-exten Local/12340@hotline-0000000a;2 AGISTATUS= QUEUESTATUS=\r\n\r\n',
    b'Event: Newexten\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: h\r\nPriority: 2\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nExtension: h\r\nApplication: UserEvent\r\nAppData: LabHangup,Chan: Local/12340@hotline-0000000a;2,AGISTATUS: ,QUEUESTATUS: \r\n\r\n',
    b'Event: UserEvent\r\nPrivilege: user,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: h\r\nPriority: 2\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nUserEvent: LabHangup\r\nChan: Local/12340@hotline-0000000a;2\r\nAGISTATUS: \r\nQUEUESTATUS: \r\n\r\n',
    b'Event: Hangup\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nChannel: Local/12340@hotline-0000000a;2\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: hotline\r\nExten: h\r\nPriority: 3\r\nUniqueid: asterisk-lab-1795235035.21\r\nLinkedid: asterisk-lab-1795235035.20\r\nCause: 16\r\nCause-txt: Normal Clearing\r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Local/12340@hotline\r\nState: NOT_INUSE\r\n\r\n',
)
#: QueuePause Paused: false (qunpause-1).
QUEUE_UNPAUSE_OK = (
    b'Response: Success\r\nActionID: qunpause-1\r\nMessage: Interface unpaused successfully\r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Queue:hotline-general_pause_Local/agent1@agents/n\r\nState: NOT_INUSE\r\n\r\n',
    b'Event: DeviceStateChange\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nDevice: Queue:hotline-general_avail\r\nState: NOT_INUSE\r\n\r\n',
    b'Event: QueueMemberPause\r\nPrivilege: agent,all\r\nSystemName: asterisk-lab\r\nQueue: hotline-general\r\nMemberName: Agent One\r\nInterface: Local/agent1@agents/n\r\nStateInterface: Local/agent1@agents/n\r\nMembership: static\r\nPenalty: 0\r\nCallsTaken: 1\r\nLastCall: 1795235032\r\nLastPause: 1795235035\r\nLoginTime: 1795234816\r\nInCall: 0\r\nStatus: 1\r\nPaused: 0\r\nPausedReason: \r\nRinginuse: 0\r\nWrapuptime: 0\r\n\r\n',
)
QUEUE_PAUSE_NOT_THERE = b'Response: Error\r\nActionID: qpause-bad\r\nMessage: Interface not found\r\n\r\n'
ORIGINATE_QUEUED = b'Response: Success\r\nActionID: orig-ok\r\nMessage: Originate successfully queued\r\n\r\n'
ORIGINATE_ANSWERED = b'Event: OriginateResponse\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nActionID: orig-ok\r\nResponse: Success\r\nChannel: Local/5550001@survey-phone-0000000b;1\r\nContext: survey\r\nExten: s\r\nReason: 4\r\nUniqueid: survey-42-a\r\nCallerIDNum: 12319\r\nCallerIDName: Hotline Survey\r\n\r\n'
ORIGINATE_NO_EXTENSION = b'Event: OriginateResponse\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nActionID: orig-noexten\r\nResponse: Failure\r\nChannel: Local/5559999@survey-phone\r\nContext: survey\r\nExten: s\r\nReason: 0\r\nUniqueid: <unknown>\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\n\r\n'
ORIGINATE_BUSY = b'Event: OriginateResponse\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nActionID: orig-busy\r\nResponse: Failure\r\nChannel: Local/busy@survey-phone\r\nContext: survey\r\nExten: s\r\nReason: 5\r\nUniqueid: <unknown>\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\n\r\n'
ORIGINATE_NO_ANSWER = b'Event: OriginateResponse\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\nActionID: orig-noanswer\r\nResponse: Failure\r\nChannel: Local/noanswer@survey-phone\r\nContext: survey\r\nExten: s\r\nReason: 3\r\nUniqueid: <unknown>\r\nCallerIDNum: <unknown>\r\nCallerIDName: <unknown>\r\n\r\n'
ORIGINATE_FAILED = b'Response: Error\r\nActionID: orig-sync-busy\r\nMessage: Originate failed\r\n\r\n'
ORIGINATE_NO_CHANNEL = b'Response: Error\r\nActionID: orig-nochannel\r\nMessage: Channel not specified\r\n\r\n'
HANGUP_OK = b'Response: Success\r\nActionID: hangup-1\r\nMessage: Channel Hungup\r\n\r\n'
HANGUP_NO_SUCH_CHANNEL = b'Response: Error\r\nActionID: hangup-bad\r\nMessage: No such channel\r\n\r\n'

# ---------------------------------------------------------------------------------------------
# Helpers over frames
# ---------------------------------------------------------------------------------------------

_ACTION_ID = re.compile(rb"ActionID: [^\r\n]*\r\n")
_UNIQUEID_HEADERS = re.compile(rb"((?:Uniqueid|UniqueID|DestUniqueid|LocalOneUniqueid|LocalTwoUniqueid|Linkedid|DestLinkedid|LocalOneLinkedid|LocalTwoLinkedid|BridgeUniqueid): )([^\r\n]*)")


def retag(frame: bytes, action_id: str) -> bytes:
    """The frame with its ActionID value replaced (the only change the peer makes)."""
    return _ACTION_ID.sub(b"ActionID: " + action_id.encode() + b"\r\n", frame, count=1)


def renumber(frames: Iterable[bytes], suffix: str) -> list[bytes]:
    """The same call with different uniqueids, linkedids and bridge ids (value + suffix), for
    replays of many calls at once."""
    tail = suffix.encode()
    return [_UNIQUEID_HEADERS.sub(lambda m: m.group(1) + m.group(2) + tail if m.group(2) not in (b"", b"<unknown>") else m.group(0), f) for f in frames]


def header_block(frame: bytes, first: str = "Channel", last: str = "Linkedid") -> bytes:
    """The captured channel-snapshot lines of a frame, from `first:` to `last:` inclusive."""
    start = frame.index(first.encode() + b": ")
    end = frame.index(b"\r\n", frame.index(b"\r\n" + last.encode() + b": ") + 2) + 2
    return frame[start:end]


def event_named(frames: Iterable[bytes], name: str, *contains: str) -> bytes:
    """The first frame of event `name` that contains every given `Header: value` text."""
    for frame in frames:
        if frame.startswith(f"Event: {name}\r\n".encode()) and all(c.encode() in frame for c in contains):
            return frame
    raise LookupError(f"no {name} event with {contains}")


def split_every_byte(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def stream(*frames: bytes | Sequence[bytes]) -> bytes:
    out = []
    for item in frames:
        out.extend([item] if isinstance(item, bytes) else item)
    return b"".join(out)


#: Bytes that are no AMI at all: a binary blob, an HTTP request, a half header, a line with no colon.
GARBAGE = b"\x00\xff\xfe binary \x01\x02\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nno colon here\r\n\r\n"


# ---------------------------------------------------------------------------------------------
# Composed frames (not in the capture; Asterisk 22's framing from manager.c / app_mixmonitor)
# ---------------------------------------------------------------------------------------------

CALLER = "asterisk-lab-1795235026.17"  # call 1's queue caller (the call record's uniqueid)
CALLER_LINKEDID = "asterisk-lab-1795235026.16"
AGENT = "asterisk-lab-1795235026.18"  # Agent One's channel in call 1
WAITING_CALLER = "asterisk-lab-1795235035.21"  # call 2's caller (abandons)
BRIDGE = "2ddef1b8-8e27-4bf8-9003-914111c3b40e"


def list_response(action_id: str, message: str) -> bytes:
    """astman_send_listack(): the same shape as the captured QueueStatus/QueueSummary ones."""
    return f"Response: Success\r\nActionID: {action_id}\r\nEventList: start\r\nMessage: {message}\r\n\r\n".encode()


def list_complete(name: str, action_id: str, items: int) -> bytes:
    """astman_send_list_complete_start/_end: as the captured QueueStatusComplete."""
    return f"Event: {name}\r\nActionID: {action_id}\r\nEventList: Complete\r\nListItems: {items}\r\n\r\n".encode()


def core_show_channel(snapshot_from: bytes, *, application: str, data: str, duration: str, bridge: str = "", action_id: str = "resync") -> bytes:
    """action_coreshowchannels(): ActionID first, the channel snapshot, then four fields."""
    return (
        b"Event: CoreShowChannel\r\nActionID: " + action_id.encode() + b"\r\n" + header_block(snapshot_from)
        + f"Application: {application}\r\nApplicationData: {data}\r\nDuration: {duration}\r\nBridgeId: {bridge}\r\n\r\n".encode()
    )


def var_set(snapshot_from: bytes, variable: str, value: str) -> bytes:
    """A VarSet event of the channel `snapshot_from` is about (framing as the captured VarSets)."""
    return (
        b"Event: VarSet\r\nPrivilege: dialplan,all\r\nSystemName: asterisk-lab\r\n" + header_block(snapshot_from)
        + f"Variable: {variable}\r\nValue: {value}\r\n\r\n".encode()
    )


def mixmonitor_start(snapshot_from: bytes) -> bytes:
    return b"Event: MixMonitorStart\r\nPrivilege: call,all\r\nSystemName: asterisk-lab\r\n" + header_block(snapshot_from) + b"\r\n"


def getvar_response(action_id: str, variable: str, value: str) -> bytes:
    """astman_start_ack() + Variable/Value: no Message header."""
    return f"Response: Success\r\nActionID: {action_id}\r\nVariable: {variable}\r\nValue: {value}\r\n\r\n".encode()


def ack(action_id: str, message: str) -> bytes:
    return f"Response: Success\r\nActionID: {action_id}\r\nMessage: {message}\r\n\r\n".encode()


def error(action_id: str, message: str) -> bytes:
    return f"Response: Error\r\nActionID: {action_id}\r\nMessage: {message}\r\n\r\n".encode()


#: Frames of call 1 by role, picked from the capture.
CALLER_BRIDGE_ENTER = event_named(CALL_ANSWERED, "BridgeEnter", f"Uniqueid: {CALLER}")
AGENT_BRIDGE_ENTER = event_named(CALL_ANSWERED, "BridgeEnter", f"Uniqueid: {AGENT}")
CALLER_JOIN = event_named(CALL_ANSWERED, "QueueCallerJoin")
CALLER_LEAVE = event_named(CALL_ANSWERED, "QueueCallerLeave")
AGENT_CONNECT = event_named(CALL_ANSWERED, "AgentConnect")
AGENT_COMPLETE = event_named(CALL_ANSWERED, "AgentComplete")
CALLER_HANGUP = event_named(CALL_ANSWERED, "Hangup", f"Uniqueid: {CALLER}")
MEMBER_IN_CALL = event_named(CALL_ANSWERED, "QueueMemberStatus", "InCall: 1")
MEMBER_IDLE_AGAIN = event_named(CALL_ANSWERED, "QueueMemberStatus", "InCall: 0")

#: QueueStatus items while call 1 talks (composed from the captured QueueParams/QueueMember of
#: qstatus-1 with Calls/InCall/Status as app_queue reports a member in a call).
QUEUE_STATUS_IN_CALL = (
    QUEUE_STATUS_IDLE[1],
    QUEUE_STATUS_IDLE[2].replace(b"InCall: 0\r\nStatus: 1\r\n", b"InCall: 1\r\nStatus: 2\r\n"),
)
#: CoreShowChannels items while call 1 talks: caller and agent channel in one bridge.
CHANNELS_IN_CALL = (
    core_show_channel(CALLER_BRIDGE_ENTER, application="Queue", data="hotline-general,,,,60", duration="00:00:03", bridge=BRIDGE),
    core_show_channel(AGENT_BRIDGE_ENTER, application="AppQueue", data="(Outgoing Line)", duration="00:00:03", bridge=BRIDGE),
)


# ---------------------------------------------------------------------------------------------
# The peer
# ---------------------------------------------------------------------------------------------

ORIGINATE_OUTCOMES = {
    "Local/5550001@survey-phone": ORIGINATE_ANSWERED,
    "Local/busy@survey-phone": ORIGINATE_BUSY,
    "Local/noanswer@survey-phone": ORIGINATE_NO_ANSWER,
}


def parse_actions(data: bytes) -> tuple[list[list[tuple[str, str]]], bytes]:
    """Client → Asterisk blocks as header lists, plus the unfinished rest."""
    *blocks, rest = data.split(b"\r\n\r\n")
    actions = []
    for block in blocks:
        headers = []
        for line in block.decode("utf-8").split("\r\n"):
            key, _, value = line.partition(": ")
            headers.append((key, value))
        actions.append(headers)
    return actions, rest


class AmiPeer(Protocol):
    """Answers actions the way the lab's Asterisk did; scripted further by the test.

    Knobs: `secret` (Login checks it), `queue_status` / `channels` (list items served, with the
    client's ActionID), `originate` ("response_first", "event_first" or "silent"), `pong`,
    `refuse` (action name → the `Response: Error` message to answer it with), `write` (the
    user's manager.conf write classes: an action registered with none of them is answered
    `Permission denied`, as ami_channels.txt shows; None allows all), `on_action` (a hook
    that may take an action over by returning True).
    """

    def __init__(
        self,
        *,
        username: str = "labuser",
        secret: str = "labsecret",
        queue_status: Sequence[bytes] = QUEUE_STATUS_IDLE[1:-1],
        channels: Sequence[bytes] = (),
        originate: str = "response_first",
        pong: bool = True,
        banner: bytes = BANNER,
        after_login: Sequence[bytes] = (FULLY_BOOTED, SUCCESSFUL_AUTH),
        refuse: dict[str, str] | None = None,
        write: Collection[str] | None = None,
    ) -> None:
        self.username, self.secret = username, secret
        self.write = None if write is None else frozenset(ALL_CLASSES if "all" in write else write)
        self.queue_status = list(queue_status)
        self.channels = list(channels)
        self.originate = originate
        self.pong = pong
        self.banner = banner
        self.after_login = list(after_login)
        self.refuse = dict(refuse or {})
        self.actions: list[list[tuple[str, str]]] = []
        self.raw = b""
        self._rest = b""
        self.logged_in = False
        self.closed = False
        self.on_action: Callable[[str, dict[str, str], str], bool] | None = None

    def connectionMade(self) -> None:
        if self.banner:
            self.transport.write(self.banner)  # type: ignore[union-attr]

    def connectionLost(self, reason: Any = None) -> None:
        self.closed = True

    def dataReceived(self, data: bytes) -> None:
        self.raw += data
        actions, self._rest = parse_actions(self._rest + data)
        for headers in actions:
            self.actions.append(headers)
            fields = dict(headers)
            name, action_id = fields.get("Action", ""), fields.get("ActionID", "")
            if self.on_action is not None and self.on_action(name, fields, action_id):
                continue
            self.answer(name, fields, action_id)

    def action_names(self) -> list[str]:
        return [dict(a).get("Action", "") for a in self.actions]

    # scripting

    def send(self, *frames: bytes | Sequence[bytes]) -> None:
        self.transport.write(stream(*frames))  # type: ignore[union-attr]

    def close(self) -> None:
        self.transport.loseConnection()  # type: ignore[union-attr]

    # answers

    def answer(self, name: str, fields: dict[str, str], action_id: str) -> None:
        write = self.send
        if name == "Login":
            if fields.get("Username") == self.username and fields.get("Secret") == self.secret:
                self.logged_in = True
                write(retag(LOGIN_OK, action_id), *self.after_login)
            else:
                write(retag(LOGIN_FAILED, action_id))
                self.close()  # Asterisk closes after a refused login (captured)
        elif (not self.logged_in and name != "Logoff") or self._lacks_class(name):
            write(retag(PERMISSION_DENIED, action_id))
        elif name in self.refuse:
            write(error(action_id, self.refuse[name]))
        elif name == "Ping":
            if self.pong:
                write(retag(PONG, action_id))
        elif name == "Logoff":
            write(retag(GOODBYE, action_id))
            self.close()
        elif name == "QueueStatus":
            items = [retag(f, action_id) for f in self.queue_status]
            write(retag(QUEUE_STATUS_IDLE[0], action_id), items, list_complete("QueueStatusComplete", action_id, len(items)))
        elif name == "QueueSummary":
            write([retag(f, action_id) for f in QUEUE_SUMMARY_IDLE])
        elif name == "CoreShowChannels":
            items = [retag(f, action_id) for f in self.channels]
            write(list_response(action_id, "Channels will follow"), items, list_complete("CoreShowChannelsComplete", action_id, len(items)))
        elif name == "Status":  # no channel up: the start and the complete event (ami_channels.txt)
            write(list_response(action_id, "Channel status will follow"), f"Event: StatusComplete\r\nActionID: {action_id}\r\nEventList: Complete\r\nListItems: 0\r\nItems: 0\r\n\r\n".encode())
        elif name == "QueueAdd":
            if fields.get("Queue") != "hotline-general":
                write(retag(QUEUE_ADD_NO_SUCH_QUEUE, action_id))
            else:
                write(retag(QUEUE_ADD_OK[0], action_id), QUEUE_ADD_OK[1:])
        elif name == "QueueRemove":
            write(retag(QUEUE_REMOVE_OK[0], action_id), QUEUE_REMOVE_OK[1:])
        elif name == "QueuePause":
            if "nobody" in fields.get("Interface", ""):
                write(retag(QUEUE_PAUSE_NOT_THERE, action_id))
            elif fields.get("Paused") == "true":
                write(retag(QUEUE_PAUSE_OK[0], action_id), QUEUE_PAUSE_OK[1:])
            else:
                write(retag(QUEUE_UNPAUSE_OK[0], action_id), QUEUE_UNPAUSE_OK[1:])
        elif name == "Originate":
            self._originate(fields, action_id)
        elif name == "Hangup":
            bad = "doesnotexist" in fields.get("Channel", "")
            write(retag(HANGUP_NO_SUCH_CHANNEL if bad else HANGUP_OK, action_id))
        elif name == "Setvar":
            write(ack(action_id, "Variable Set"))
        elif name == "Getvar":
            write(getvar_response(action_id, fields.get("Variable", ""), "42" if fields.get("Variable") == "SURVEY_ID" else ""))
        elif name == "Redirect":
            write(ack(action_id, "Dual Redirect successful" if "ExtraChannel" in fields else "Redirect successful"))
        else:
            write(error(action_id, "Invalid/unknown command"))

    def _lacks_class(self, name: str) -> bool:
        """manager.c's check: the user's write classes share none with the action's."""
        return self.write is not None and name in ACTION_WRITE_CLASSES and not ACTION_WRITE_CLASSES[name] & self.write

    def _originate(self, fields: dict[str, str], action_id: str) -> None:
        if "Channel" not in fields:
            self.send(retag(ORIGINATE_NO_CHANNEL, action_id))
            return
        response = retag(ORIGINATE_QUEUED, action_id)
        event = retag(ORIGINATE_OUTCOMES.get(fields["Channel"], ORIGINATE_NO_EXTENSION), action_id)
        if self.originate == "event_first":
            self.send(event, response)
        elif self.originate == "silent":
            self.send(response)
        else:
            self.send(response, event)


@implementer(IStreamClientEndpoint)
class PeerEndpoint:
    """Connects a client factory to a new `AmiPeer` over iosim (no socket) on each attempt.

    `refuse` counts attempts to refuse first (ConnectionRefusedError); `peers` and `pumps`
    keep every connection made, the last one being the live one.
    """

    def __init__(self, clock: Any, make_peer: Callable[[], AmiPeer] = AmiPeer, refuse: int = 0) -> None:
        self.clock = clock
        self.make_peer = make_peer
        self.refuse = refuse
        self.attempts = 0
        self.peers: list[AmiPeer] = []
        self.pumps: list[iosim.IOPump] = []

    def connect(self, factory: IProtocolFactory) -> Deferred[Any]:
        self.attempts += 1
        if self.refuse > 0:
            self.refuse -= 1
            return fail(ConnectionRefusedError("peer refused (scripted)"))
        peer = self.make_peer()
        client = factory.buildProtocol(iosim.FakeAddress())
        pump = iosim.connect(peer, iosim.FakeTransport(peer, isServer=True), client, iosim.FakeTransport(client, isServer=False), greet=False, clock=self.clock)
        self.peers.append(peer)
        self.pumps.append(pump)
        return succeed(client)

    @property
    def peer(self) -> AmiPeer:
        return self.peers[-1]

    def flush(self) -> None:
        """Move every pending byte (and disconnect) both ways on every connection."""
        for pump in self.pumps:
            pump.flush()

    def drip(self, *frames: bytes | Sequence[bytes]) -> None:
        """Deliver frames from the live peer to the client one byte per read."""
        pump = self.pumps[-1]
        for byte in split_every_byte(stream(*frames)):
            self.peer.transport.write(byte)  # type: ignore[union-attr]
            pump.pump()
        pump.flush()


# ---------------------------------------------------------------------------------------------
# Deferred helpers for plain pytest (no trial), and a bounded real reactor for end-to-end tests
# ---------------------------------------------------------------------------------------------


def result_of(d: Deferred[Any]) -> Any:
    """The result of a Deferred that has fired successfully (fails the test otherwise)."""
    outcome: list[Any] = []
    d.addBoth(outcome.append)
    assert outcome, "the Deferred has not fired"
    if isinstance(outcome[0], Failure):
        outcome[0].raiseException()
    return outcome[0]


def failure_of(d: Deferred[Any], *kinds: type[BaseException]) -> Any:
    """The exception of a Deferred that has failed with one of `kinds`."""
    outcome: list[Any] = []
    d.addBoth(outcome.append)
    assert outcome, "the Deferred has not fired"
    assert isinstance(outcome[0], Failure), f"expected a failure, got {outcome[0]!r}"
    assert outcome[0].check(*kinds), f"expected {kinds}, got {outcome[0].value!r}"
    return outcome[0].value


def run_until(reactor: Any, d: Deferred[Any], timeout: float = 5.0) -> Any:
    """Iterate a private (never `run()`) reactor until `d` fires, for at most `timeout` s."""
    outcome: list[Any] = []
    d.addBoth(outcome.append)
    deadline = time.monotonic() + timeout
    while not outcome:
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing happened within {timeout} s")
        reactor.iterate(0.01)
    if isinstance(outcome[0], Failure):
        outcome[0].raiseException()
    return outcome[0]


def iterate_until(reactor: Any, condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Iterate a private reactor until `condition()` holds, for at most `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        reactor.iterate(0.01)


@contextmanager
def private_reactor() -> Iterator[Any]:
    """A fresh poll reactor for an end-to-end test, never `run()`; its waker pipe is closed after."""
    from twisted.internet.pollreactor import PollReactor

    reactor = PollReactor()
    try:
        yield reactor
    finally:
        for selectable in reactor.removeAll():  # left over only if the test failed
            with suppress(Exception):
                selectable.connectionLost(Failure(ConnectionDone("test over")))
        waker = reactor.waker
        if waker is not None:
            reactor.removeReader(waker)
            waker.connectionLost(None)
