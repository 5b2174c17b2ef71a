"""`booksync simulator init --seed` builds a company with the real company's lists and nothing else (issue 17,
item 16): jobs keep their parent, Sublevel and JobStatus, times keep their UTC offset, and no vendor or payment
method is invented."""
from __future__ import annotations

from pathlib import Path

from booksync.qbxml.parse import parse_response

ACCOUNTS = """<?xml version="1.0" ?>
<QBXML><QBXMLMsgsRs><AccountQueryRs requestID="1" statusCode="0" statusSeverity="Info" statusMessage="Status OK">
<AccountRet><ListID>80000001-1700000000</ListID><TimeCreated>2023-11-14T09:13:20-05:00</TimeCreated>
<TimeModified>2023-11-14T09:13:20-05:00</TimeModified><EditSequence>1700000000</EditSequence><Name>Checking</Name>
<FullName>Checking</FullName><IsActive>true</IsActive><Sublevel>0</Sublevel><AccountType>Bank</AccountType>
<AccountNumber>1000</AccountNumber><Balance>0.00</Balance><TotalBalance>0.00</TotalBalance></AccountRet>
<AccountRet><ListID>80000003-1700000000</ListID><TimeCreated>2023-11-14T09:13:20-05:00</TimeCreated>
<TimeModified>2023-11-14T09:13:20-05:00</TimeModified><EditSequence>1700000000</EditSequence><Name>Gold</Name>
<FullName>Dues:Gold</FullName><IsActive>true</IsActive><ParentRef><ListID>80000002-1700000000</ListID>
<FullName>Dues</FullName></ParentRef><Sublevel>1</Sublevel><AccountType>Income</AccountType>
<AccountNumber>4010</AccountNumber><Balance>0.00</Balance><TotalBalance>0.00</TotalBalance></AccountRet>
<AccountRet><ListID>80000002-1700000000</ListID><TimeCreated>2023-11-14T09:13:20-05:00</TimeCreated>
<TimeModified>2023-11-14T09:13:20-05:00</TimeModified><EditSequence>1700000000</EditSequence><Name>Dues</Name>
<FullName>Dues</FullName><IsActive>true</IsActive><Sublevel>0</Sublevel><AccountType>Income</AccountType>
<AccountNumber>4000</AccountNumber><Balance>0.00</Balance><TotalBalance>0.00</TotalBalance></AccountRet>
</AccountQueryRs></QBXMLMsgsRs></QBXML>
"""

CUSTOMERS = """<?xml version="1.0" ?>
<QBXML><QBXMLMsgsRs><CustomerQueryRs requestID="1" statusCode="0" statusSeverity="Info" statusMessage="Status OK">
<CustomerRet><ListID>8000000A-1700000100</ListID><TimeCreated>2024-02-01T08:00:00+01:00</TimeCreated>
<TimeModified>2024-02-03T10:30:00+01:00</TimeModified><EditSequence>1706952600</EditSequence>
<Name>Gala</Name><FullName>Acme Widgets:Gala</FullName><IsActive>true</IsActive>
<ParentRef><ListID>80000009-1700000100</ListID><FullName>Acme Widgets</FullName></ParentRef><Sublevel>1</Sublevel>
<Balance>0.00</Balance><TotalBalance>0.00</TotalBalance><JobStatus>InProgress</JobStatus></CustomerRet>
<CustomerRet><ListID>80000009-1700000100</ListID><TimeCreated>2024-02-01T08:00:00+01:00</TimeCreated>
<TimeModified>2024-02-01T08:00:00+01:00</TimeModified><EditSequence>1706770800</EditSequence>
<Name>Acme Widgets</Name><FullName>Acme Widgets</FullName><IsActive>true</IsActive><Sublevel>0</Sublevel>
<CompanyName>Acme Widgets</CompanyName><Balance>0.00</Balance><TotalBalance>0.00</TotalBalance>
<JobStatus>None</JobStatus></CustomerRet>
</CustomerQueryRs></QBXMLMsgsRs></QBXML>
"""

QUERIES = """<?xml version="1.0" encoding="utf-8"?>
<?qbxml version="13.0"?>
<QBXML><QBXMLMsgsRq onError="continueOnError">
<CustomerQueryRq requestID="1"><FullName>Acme Widgets:Gala</FullName></CustomerQueryRq>
<VendorQueryRq requestID="2"/>
<PaymentMethodQueryRq requestID="3"/>
<AccountQueryRq requestID="4"><FullName>Dues:Gold</FullName></AccountQueryRq>
</QBXMLMsgsRq></QBXML>
"""


def test_seeding_keeps_jobs_and_time_zones_and_invents_no_lists(cli, tmp_path: Path):
    home = tmp_path / "home"
    (tmp_path / "accounts.xml").write_text(ACCOUNTS)
    (tmp_path / "customers.xml").write_text(CUSTOMERS)
    init = cli("simulator", "init", "--name", "Real Chamber", "--seed", str(tmp_path / "accounts.xml"),
               "--seed", str(tmp_path / "customers.xml"), "--home", str(home))
    assert init.code == 0, init
    assert "Seeded 3 accounts, 2 customers" in init.stdout
    (tmp_path / "q.xml").write_text(QUERIES)
    answer = cli("simulator", "request", str(tmp_path / "q.xml"), "--home", str(home))
    assert answer.code == 0, answer
    job, vendors, methods, gold = parse_response(answer.stdout)
    (ret,) = job.rets
    assert (ret.findtext("ListID"), ret.findtext("ParentRef/ListID"), ret.findtext("ParentRef/FullName"),
            ret.findtext("Sublevel"), ret.findtext("JobStatus")) == \
        ("8000000A-1700000100", "80000009-1700000100", "Acme Widgets", "1", "InProgress")
    assert (ret.findtext("TimeCreated"), ret.findtext("TimeModified")) == \
        ("2024-02-01T08:00:00+01:00", "2024-02-03T10:30:00+01:00")
    assert vendors.code == 1 and vendors.rets == []      # the real company had none
    assert methods.code == 1 and methods.rets == []
    (account,) = gold.rets
    assert (account.findtext("ParentRef/FullName"), account.findtext("Sublevel")) == ("Dues", "1")
