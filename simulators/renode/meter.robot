*** Comments ***
veriwatt meter on an emulated STM32F4 Nucleo (Renode): boot MicroPython, start the meter
on the REPL UART (USART2), wait for the banner, send a HELLO frame, expect an INFO frame.

Run:  renode-test --variable ELF:/abs/path/to/firmware.elf simulators/renode/meter.robot
The ELF is a NUCLEO_F446RE/F401RE MicroPython build with firmware/manifest.py frozen in
(VW_HAL=stm32).  Not runnable in this project's CI: Renode is in no reachable registry;
tests/firmware/test_renode.py runs this suite whenever renode-test is on PATH.
Pitfalls (see veriwatt-stm32f4.resc): use a Nucleo build (STM32F4DISC has USB-CDC REPL
only); if SystemClock_Config hangs, pass --variable RCC_WORKAROUND:yes.

*** Settings ***
Suite Setup       Setup
Suite Teardown    Teardown
Test Teardown     Test Teardown
Resource          ${RENODEKEYWORDS}
Library           ${CURDIR}/meter_wire.py

*** Variables ***
${ELF}              ${CURDIR}/../../build/micropython/ports/stm32/build-NUCLEO_F446RE/firmware.elf
${RESC}             ${CURDIR}/veriwatt-stm32f4.resc
${UART}             sysbus.usart2
${UART_PORT}        3456
${RCC_WORKAROUND}   no

*** Keywords ***
Boot Meter
    Execute Command             $elf=@${ELF}
    Execute Command             $uart_port=${UART_PORT}
    Execute Script              ${RESC}
    IF    '${RCC_WORKAROUND}' == 'yes'
        Execute Command         runMacro $rcc_ready
    END
    Create Terminal Tester      ${UART}    timeout=120
    Start Emulation
    Wait For Prompt On Uart     >>>
    # the meter starts from the frozen package (a board's /main.py does the same)
    Write Line To Uart          import vwmeter.main as m; m.main()
    Wait For Line On Uart       veriwatt-meter

*** Test Cases ***
Meter Prints Banner And Answers HELLO With INFO
    Boot Meter
    ${info}=                    Send Hello And Expect Info    ${UART_PORT}    120
    Should Be Equal As Integers    ${info}[proto_version]    1
    Should Be True              '${info}[fw_version]'.endswith('/stm32')
